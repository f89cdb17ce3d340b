package ai.zhiku.inference.weights;

import ai.djl.ndarray.types.DataType;

/** Element types a checkpoint can store. Only the floating types can be read as float values. */
public enum TensorDType {
  F32(4, DataType.FLOAT32),
  F16(2, DataType.FLOAT16),
  BF16(2, DataType.BFLOAT16),
  F64(8, DataType.FLOAT64),
  I64(8, DataType.INT64),
  I32(4, DataType.INT32),
  I8(1, DataType.INT8),
  U8(1, DataType.UINT8),
  BOOL(1, DataType.BOOLEAN);

  private final int bytes;
  private final DataType djlType;

  TensorDType(int bytes, DataType djlType) {
    this.bytes = bytes;
    this.djlType = djlType;
  }

  public int bytes() { return bytes; }

  public DataType djlType() { return djlType; }

  public boolean isFloating() { return this == F32 || this == F16 || this == BF16 || this == F64; }

  /** The safetensors header name ("F32", "BF16", ...), or null when unknown. */
  static TensorDType fromSafetensors(String name) {
    return switch (name) {
      case "F32" -> F32;
      case "F16" -> F16;
      case "BF16" -> BF16;
      case "F64" -> F64;
      case "I64" -> I64;
      case "I32" -> I32;
      case "I8" -> I8;
      case "U8" -> U8;
      case "BOOL" -> BOOL;
      default -> null;
    };
  }

  /** The torch storage class name ("FloatStorage", ...), or null when unknown. */
  static TensorDType fromTorchStorage(String name) {
    return switch (name) {
      case "FloatStorage" -> F32;
      case "HalfStorage" -> F16;
      case "BFloat16Storage" -> BF16;
      case "DoubleStorage" -> F64;
      case "LongStorage" -> I64;
      case "IntStorage" -> I32;
      case "CharStorage" -> I8;
      case "ByteStorage" -> U8;
      case "BoolStorage" -> BOOL;
      default -> null;
    };
  }
}
