#!/bin/sh
# Regenerates the seed corpus of kserve_grpc_fuzz (tests/fuzz/corpus_grpc/): each
# seed is a serialized inference.ModelInferRequest, written here in protobuf text
# format and encoded with `protoc --encode`. Accepted requests (raw and typed FP32,
# INT64, BOOL, small integer types, FP16 raw, every parameter kind) and refused ones
# (BYTES, raw of the wrong size, typed count mismatch, raw entries != inputs, mixed
# raw and typed, BOOL raw byte 2, wrong typed field, INT8 out of range, negative
# dimension).
# Usage: tests/fuzz/make_grpc_corpus.sh (needs protoc)
set -eu
cd "$(dirname "$0")/../.."
out=tests/fuzz/corpus_grpc
mkdir -p "$out"

seed() {  # NAME, text format on stdin
  protoc --proto_path=src/serve --encode=inference.ModelInferRequest \
    src/serve/grpc_inference.proto >"$out/$1"
}

# FP32 1.0 = 00 00 80 3f, 2.0 = 00 00 00 40 (little-endian).
seed raw_fp32 <<'EOF'
model_name: "mnist" id: "r1"
inputs { name: "x" datatype: "FP32" shape: [1, 2] }
outputs { name: "y" }
raw_input_contents: "\000\000\200\077\000\000\000\100"
EOF
seed typed_fp32 <<'EOF'
model_name: "mnist" model_version: "1"
inputs { name: "x" datatype: "FP32" shape: [2, 2] contents { fp32_contents: [1.5, -2, 0, 3.25] } }
EOF
seed typed_int64 <<'EOF'
model_name: "m" id: "i64"
inputs { name: "ids" datatype: "INT64" shape: [3] contents { int64_contents: [-1, 0, 9223372036854775807] } }
EOF
seed raw_int64 <<'EOF'
model_name: "m"
inputs { name: "ids" datatype: "INT64" shape: [1] }
raw_input_contents: "\377\377\377\377\377\377\377\177"
EOF
seed typed_bool <<'EOF'
model_name: "m"
inputs { name: "mask" datatype: "BOOL" shape: [4] contents { bool_contents: [true, false, true, true] } }
EOF
seed raw_bool <<'EOF'
model_name: "m"
inputs { name: "mask" datatype: "BOOL" shape: [2, 1] }
raw_input_contents: "\001\000"
EOF
seed typed_small_ints <<'EOF'
model_name: "m"
inputs { name: "a" datatype: "INT8" shape: [2] contents { int_contents: [-128, 127] } }
inputs { name: "b" datatype: "INT16" shape: [1] contents { int_contents: [-32768] } }
inputs { name: "c" datatype: "INT32" shape: [1] contents { int_contents: [2147483647] } }
inputs { name: "d" datatype: "UINT8" shape: [3] contents { uint_contents: [0, 1, 255] } }
outputs { name: "y" } outputs { name: "z" }
EOF
seed raw_fp16_params <<'EOF'
model_name: "m" id: "p"
parameters { key: "b" value { bool_param: true } }
parameters { key: "i" value { int64_param: -7 } }
parameters { key: "s" value { string_param: "text" } }
parameters { key: "d" value { double_param: 0.5 } }
parameters { key: "u" value { uint64_param: 42 } }
inputs { name: "h" datatype: "FP16" shape: [2] }
inputs { name: "e" datatype: "FP32" shape: [0, 3] }
raw_input_contents: "\000\074\000\300"
raw_input_contents: ""
EOF
seed bytes_unsupported <<'EOF'
model_name: "m"
inputs { name: "s" datatype: "BYTES" shape: [2] contents { bytes_contents: ["ab", "c"] } }
EOF
seed raw_size_mismatch <<'EOF'
model_name: "m"
inputs { name: "x" datatype: "FP32" shape: [2] }
raw_input_contents: "\000\000\200\077\000\000\000"
EOF
seed typed_count_mismatch <<'EOF'
model_name: "m"
inputs { name: "x" datatype: "INT64" shape: [2, 2] contents { int64_contents: [1, 2, 3] } }
EOF
seed raw_entries_mismatch <<'EOF'
model_name: "m"
inputs { name: "a" datatype: "UINT8" shape: [1] }
inputs { name: "b" datatype: "UINT8" shape: [1] }
raw_input_contents: "\001"
EOF
seed raw_and_typed <<'EOF'
model_name: "m"
inputs { name: "x" datatype: "FP32" shape: [1] contents { fp32_contents: [1] } }
raw_input_contents: "\000\000\200\077"
EOF
seed raw_bool_bad <<'EOF'
model_name: "m"
inputs { name: "mask" datatype: "BOOL" shape: [2] }
raw_input_contents: "\001\002"
EOF
seed wrong_typed_field <<'EOF'
model_name: "m"
inputs { name: "x" datatype: "INT8" shape: [1] contents { int_contents: [300] uint_contents: [1] } }
EOF
seed int8_out_of_range <<'EOF'
model_name: "m"
inputs { name: "x" datatype: "INT8" shape: [2] contents { int_contents: [1, 300] } }
EOF
seed negative_dim <<'EOF'
model_name: "m"
inputs { name: "x" datatype: "FP32" shape: [-1, 2] contents { fp32_contents: [1, 2] } }
EOF
ls -l "$out"
