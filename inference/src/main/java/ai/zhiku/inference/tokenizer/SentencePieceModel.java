package ai.zhiku.inference.tokenizer;

import ai.zhiku.inference.weights.CheckpointException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * A SentencePiece BPE model read from {@code tokenizer.model} (the ModelProto, parsed by hand:
 * pieces with score and type, the trainer's model type and byte_fallback, the normalizer's
 * dummy-prefix and whitespace flags). Encoding is SentencePiece's BPE: user-defined pieces are
 * matched first and never merged, then the adjacent pair whose concatenation is a piece with the
 * highest score is merged (leftmost on ties) until none is left; pieces outside the vocabulary
 * fall back to their UTF-8 bytes. Only the identity normalizer is supported (both ChatGLM2 and
 * InternLM2 use it).
 */
public final class SentencePieceModel {
  static final String SPACE = "\u2581";
  static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

  private final String[] pieces;
  private final float[] scores;
  private final int[] types;
  private final Map<String, Integer> normalIds = new HashMap<>();
  private final Map<String, Integer> reservedIds = new HashMap<>();
  private final int[] byteIds = new int[256];
  private final List<String> userDefined = new ArrayList<>();
  private final int unkId;
  private final boolean addDummyPrefix;
  private final boolean removeExtraWhitespaces;
  private final boolean escapeWhitespaces;
  private final boolean byteFallback;

  private SentencePieceModel(List<String> pieces, List<Float> scores, List<Integer> types,
                             boolean addDummyPrefix, boolean removeExtra, boolean escape, boolean byteFallback) {
    this.pieces = pieces.toArray(new String[0]);
    this.scores = new float[pieces.size()];
    this.types = new int[pieces.size()];
    Arrays.fill(byteIds, -1);
    int unk = 0;
    for (int i = 0; i < this.pieces.length; i++) {
      this.scores[i] = scores.get(i);
      int t = types.get(i);
      this.types[i] = t;
      String p = this.pieces[i];
      if (t == NORMAL || t == USER_DEFINED || t == UNUSED) normalIds.putIfAbsent(p, i);
      else reservedIds.putIfAbsent(p, i);
      if (t == USER_DEFINED) userDefined.add(p);
      if (t == UNKNOWN) unk = i;
      if (t == BYTE && p.length() == 6 && p.startsWith("<0x") && p.endsWith(">")) {
        byteIds[Integer.parseInt(p.substring(3, 5), 16)] = i;
      }
    }
    userDefined.sort((a, b) -> b.length() - a.length());
    this.unkId = unk;
    this.addDummyPrefix = addDummyPrefix;
    this.removeExtraWhitespaces = removeExtra;
    this.escapeWhitespaces = escape;
    this.byteFallback = byteFallback;
  }

  /** Reads {@code tokenizer.model}; the error names the file. */
  public static SentencePieceModel load(Path file) {
    byte[] data;
    try {
      data = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new CheckpointException("cannot read " + file.getFileName() + ": " + e.getMessage(), e);
    }
    try {
      return parse(data);
    } catch (RuntimeException e) {
      throw new CheckpointException(file.getFileName() + " is not a SentencePiece model: " + e.getMessage(), e);
    }
  }

  static SentencePieceModel parse(byte[] data) {
    List<String> pieces = new ArrayList<>();
    List<Float> scores = new ArrayList<>();
    List<Integer> types = new ArrayList<>();
    boolean[] flags = {true, true, true}; // add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces
    int modelType = 1;
    boolean byteFallback = false;
    String normalizer = "identity";
    ProtoReader r = new ProtoReader(data, 0, data.length);
    while (r.more()) {
      int tag = r.tag();
      int field = tag >>> 3;
      if (field == 1 && (tag & 7) == 2) {
        ProtoReader p = r.sub();
        String piece = "";
        float score = 0;
        int type = NORMAL;
        while (p.more()) {
          int t = p.tag();
          switch (t >>> 3) {
            case 1 -> piece = p.string();
            case 2 -> score = p.fixed32Float();
            case 3 -> type = (int) p.varint();
            default -> p.skip(t);
          }
        }
        pieces.add(piece);
        scores.add(score);
        types.add(type);
      } else if (field == 2 && (tag & 7) == 2) {
        ProtoReader p = r.sub();
        while (p.more()) {
          int t = p.tag();
          switch (t >>> 3) {
            case 3 -> modelType = (int) p.varint();
            case 35 -> byteFallback = p.varint() != 0;
            default -> p.skip(t);
          }
        }
      } else if (field == 3 && (tag & 7) == 2) {
        ProtoReader p = r.sub();
        while (p.more()) {
          int t = p.tag();
          switch (t >>> 3) {
            case 1 -> normalizer = p.string();
            case 3 -> flags[0] = p.varint() != 0;
            case 4 -> flags[1] = p.varint() != 0;
            case 5 -> flags[2] = p.varint() != 0;
            default -> p.skip(t);
          }
        }
      } else {
        r.skip(tag);
      }
    }
    if (modelType != 2) throw new IllegalArgumentException("model type " + modelType + " is not BPE");
    if (!normalizer.equals("identity")) throw new IllegalArgumentException("normalizer " + normalizer + " is not supported");
    if (pieces.isEmpty()) throw new IllegalArgumentException("no pieces");
    return new SentencePieceModel(pieces, scores, types, flags[0], flags[1], flags[2], byteFallback);
  }

  public int size() { return pieces.length; }

  public String piece(int id) { return pieces[id]; }

  public boolean isControl(int id) { return types[id] == CONTROL; }

  public boolean isByte(int id) { return types[id] == BYTE; }

  /** The id of a piece (control and byte pieces included), or the unknown id. */
  /** The bytes a normal, user-defined or byte piece stands for ({@code ▁} as a space); null for the others. */
  public byte[] pieceBytes(int id) {
    if (id < 0 || id >= pieces.length) return null;
    return switch (types[id]) {
      case BYTE -> new byte[] {(byte) Integer.parseInt(pieces[id].substring(3, 5), 16)};
      case NORMAL, USER_DEFINED -> pieces[id].replace(SPACE, " ").getBytes(java.nio.charset.StandardCharsets.UTF_8);
      default -> null;
    };
  }

  public int pieceToId(String piece) {
    Integer id = reservedIds.get(piece);
    if (id == null) id = normalIds.get(piece);
    return id == null ? unkId : id;
  }

  public int unkId() { return unkId; }

  /** Encodes text with SentencePiece's normalization and BPE; the result never contains control ids. */
  public int[] encode(String text) {
    String norm = normalize(text);
    if (norm.isEmpty()) return new int[0];
    // initial symbols: user-defined pieces (frozen) or single code points
    List<int[]> spans = new ArrayList<>(); // [start, end, frozen]
    int pos = 0;
    while (pos < norm.length()) {
      String ud = null;
      for (String u : userDefined) {
        if (norm.startsWith(u, pos)) {
          ud = u;
          break;
        }
      }
      int len = ud != null ? ud.length() : Character.charCount(norm.codePointAt(pos));
      spans.add(new int[] {pos, pos + len, ud != null ? 1 : 0});
      pos += len;
    }
    int n = spans.size();
    int[] start = new int[n], end = new int[n], prev = new int[n], next = new int[n];
    boolean[] frozen = new boolean[n];
    for (int i = 0; i < n; i++) {
      start[i] = spans.get(i)[0];
      end[i] = spans.get(i)[1];
      frozen[i] = spans.get(i)[2] == 1;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    // agenda of candidate merges: score desc, then left index asc
    PriorityQueue<long[]> agenda = new PriorityQueue<>((a, b) -> {
      int c = Float.compare(Float.intBitsToFloat((int) b[0]), Float.intBitsToFloat((int) a[0]));
      return c != 0 ? c : Long.compare(a[1], b[1]);
    });
    for (int i = 0; i + 1 < n; i++) addPair(norm, i, i + 1, start, end, frozen, agenda);
    while (!agenda.isEmpty()) {
      long[] top = agenda.poll();
      int left = (int) top[1], right = (int) top[2];
      int size = (int) top[3];
      if (start[left] < 0 || start[right] < 0 || next[left] != right
          || (end[left] - start[left]) + (end[right] - start[right]) != size) continue;
      end[left] = end[right];
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      start[right] = -1;
      if (prev[left] >= 0) addPair(norm, prev[left], left, start, end, frozen, agenda);
      if (next[left] >= 0) addPair(norm, left, next[left], start, end, frozen, agenda);
    }
    int[] out = new int[norm.length() * 4];
    int k = 0;
    for (int i = 0; i >= 0 && i < n; i = next[i]) {
      String piece = norm.substring(start[i], end[i]);
      int id = pieceToId(piece);
      if (id == unkId && byteFallback && !piece.equals(pieces[unkId])) {
        for (byte b : piece.getBytes(StandardCharsets.UTF_8)) out[k++] = byteIds[b & 0xff];
      } else {
        out[k++] = id;
      }
    }
    return Arrays.copyOf(out, k);
  }

  private void addPair(String norm, int left, int right, int[] start, int[] end, boolean[] frozen, PriorityQueue<long[]> agenda) {
    if (frozen[left] || frozen[right]) return;
    String merged = norm.substring(start[left], end[right]);
    Integer id = normalIds.get(merged);
    if (id == null || types[id] == UNUSED) return;
    agenda.add(new long[] {Float.floatToIntBits(scores[id]) & 0xffffffffL, left, right, merged.length()});
  }

  private String normalize(String text) {
    if (text.isEmpty()) return "";
    String t = text;
    if (removeExtraWhitespaces) t = t.strip().replaceAll(" +", " ");
    if (t.isEmpty()) return "";
    if (addDummyPrefix) t = " " + t;
    if (escapeWhitespaces) t = t.replace(" ", SPACE);
    return t;
  }

  /**
   * SentencePiece's decoding of a piece sequence: control pieces and {@code null} entries give
   * nothing, byte pieces are joined and decoded as UTF-8 (each invalid byte becomes U+FFFD),
   * {@code ▁} becomes a space, and with a dummy prefix the first non-empty piece loses its
   * leading {@code ▁}.
   */
  public String decode(int[] ids, java.util.function.IntPredicate empty) {
    return decode(ids, empty, true);
  }

  /**
   * As {@link #decode(int[], java.util.function.IntPredicate)}; with {@code atStart} false the ids
   * continue text decoded before them (pieces joined into one DecodePieces call), so no leading
   * {@code ▁} is removed.
   */
  public String decode(int[] ids, java.util.function.IntPredicate empty, boolean atStart) {
    StringBuilder sb = new StringBuilder();
    byte[] bytes = new byte[16];
    int nb = 0;
    for (int id : ids) {
      if (id >= 0 && id < pieces.length && types[id] == BYTE) {
        if (nb == bytes.length) bytes = Arrays.copyOf(bytes, nb * 2);
        bytes[nb++] = (byte) Integer.parseInt(pieces[id].substring(3, 5), 16);
        continue;
      }
      if (nb > 0) {
        appendUtf8(sb, bytes, nb);
        nb = 0;
      }
      if (empty.test(id) || id < 0 || id >= pieces.length || types[id] == CONTROL) continue;
      String p = types[id] == UNKNOWN ? " \u2047 " : pieces[id];
      if (atStart && sb.isEmpty() && (addDummyPrefix || removeExtraWhitespaces) && p.startsWith(SPACE)) p = p.substring(1);
      sb.append(p.replace(SPACE, " "));
    }
    if (nb > 0) appendUtf8(sb, bytes, nb);
    return sb.toString();
  }

  /** Appends UTF-8 bytes; every byte that does not start a complete, valid sequence becomes U+FFFD. */
  static void appendUtf8(StringBuilder sb, byte[] b, int n) {
    int i = 0;
    while (i < n) {
      int c = b[i] & 0xff;
      int len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
      boolean ok = len > 0 && i + len <= n;
      int cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
      for (int j = 1; ok && j < len; j++) {
        int cc = b[i + j] & 0xff;
        if ((cc & 0xc0) != 0x80) ok = false;
        cp = (cp << 6) | (cc & 0x3f);
      }
      if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))) ok = false;
      if (ok) {
        sb.appendCodePoint(cp);
        i += len;
      } else {
        sb.append('\ufffd');
        i++;
      }
    }
  }

  /** Minimal protobuf wire-format reader. */
  private static final class ProtoReader {
    private final byte[] b;
    private int pos;
    private final int limit;

    ProtoReader(byte[] b, int pos, int limit) {
      this.b = b;
      this.pos = pos;
      this.limit = limit;
    }

    boolean more() { return pos < limit; }

    int tag() { return (int) varint(); }

    long varint() {
      long r = 0;
      for (int s = 0; s < 64; s += 7) {
        byte c = b[pos++];
        r |= (long) (c & 0x7f) << s;
        if (c >= 0) return r;
      }
      throw new IllegalArgumentException("bad varint");
    }

    ProtoReader sub() {
      int len = (int) varint();
      if (len < 0 || pos + len > limit) throw new IllegalArgumentException("truncated message");
      ProtoReader p = new ProtoReader(b, pos, pos + len);
      pos += len;
      return p;
    }

    String string() {
      int len = (int) varint();
      String s = new String(b, pos, len, StandardCharsets.UTF_8);
      pos += len;
      return s;
    }

    float fixed32Float() {
      int v = (b[pos] & 0xff) | (b[pos + 1] & 0xff) << 8 | (b[pos + 2] & 0xff) << 16 | (b[pos + 3] & 0xff) << 24;
      pos += 4;
      return Float.intBitsToFloat(v);
    }

    void skip(int tag) {
      switch (tag & 7) {
        case 0 -> varint();
        case 1 -> pos += 8;
        case 2 -> { int len = (int) varint(); pos += len; }
        case 5 -> pos += 4;
        default -> throw new IllegalArgumentException("unsupported wire type " + (tag & 7));
      }
    }
  }
}
