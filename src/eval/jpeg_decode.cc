// JPEG decoding for the eval data sets, on libjpeg (include/deepedge/eval_dataset.h).
#include <csetjmp>
#include <cstdio>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include "deepedge/eval_dataset.h"

namespace deepedge {
namespace {

// libjpeg reports fatal errors through error_exit, which by default calls exit(). This
// one jumps back to DecodeJpeg with the library's message instead.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnJpegError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void OnJpegMessage(j_common_ptr /*cinfo*/, int /*level*/) {}  // warnings: not printed

}  // namespace

Status DecodeJpeg(std::string_view bytes, const std::string& what, ImageSample& out) {
  if (bytes.size() < 4 || static_cast<unsigned char>(bytes[0]) != 0xFF ||
      static_cast<unsigned char>(bytes[1]) != 0xD8) {
    return Corrupt(what + ": not a JPEG image");
  }
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = OnJpegError;
  err.mgr.emit_message = OnJpegMessage;
  // Nothing with a destructor is created between here and the last libjpeg call, so the
  // jump skips no C++ clean-up; `out.pixels` is sized before decoding starts.
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_decompress(&cinfo);
    out.pixels.clear();
    return Corrupt(what + ": bad JPEG data: " + std::string(err.message));
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const auto width = static_cast<std::int64_t>(cinfo.output_width);
  const auto height = static_cast<std::int64_t>(cinfo.output_height);
  const int channels = cinfo.output_components;
  if (channels != 1 && channels != 3) {
    jpeg_destroy_decompress(&cinfo);
    return Corrupt(what + ": JPEG with " + std::to_string(channels) + " components");
  }
  out.width = width;
  out.height = height;
  out.channels = channels;
  out.pixels.resize(static_cast<std::size_t>(width * height * channels));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.pixels.data() + static_cast<std::size_t>(cinfo.output_scanline) *
                                           static_cast<std::size_t>(width * channels);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return Status::Ok();
}

}  // namespace deepedge
