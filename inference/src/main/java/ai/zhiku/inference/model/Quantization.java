package ai.zhiku.inference.model;

import ai.zhiku.common.ZhikuException;

/**
 * Weight-only quantization applied while a float checkpoint loads ({@code --quantize}): every
 * projection and the output head to {@code bits} (8 or 4) with one scale per group of
 * {@code groupSize} columns; embeddings, norms, biases and the KV cache stay in the compute precision.
 */
public record Quantization(int bits, int groupSize) {
  /** Group sizes by default: 128 for both (int8 per-row scales lost 0.1-0.3% more accuracy in our checks). */
  public static final int DEFAULT_GROUP = 128;

  public Quantization {
    if (bits != 8 && bits != 4) throw ZhikuException.invalid("quantize", "quantize must be int8 or int4, got " + bits + " bits");
    if (groupSize < 8 || groupSize % 8 != 0) {
      throw ZhikuException.invalid("quantize-group-size", "quantize-group-size must be a positive multiple of 8, got " + groupSize);
    }
  }

  /** The setting for {@code --quantize} (none, int8, int4; null = none) and an optional group size. */
  public static Quantization parse(String flag, Integer groupSize) {
    if (flag == null || flag.isBlank() || flag.equals("none")) return null;
    int group = groupSize == null ? DEFAULT_GROUP : groupSize;
    return switch (flag) {
      case "int8" -> new Quantization(8, group);
      case "int4" -> new Quantization(4, group);
      default -> throw ZhikuException.invalid("quantize", "--quantize must be none, int8 or int4, got '" + flag + "'");
    };
  }

  public String flag() { return "int" + bits; }
}
