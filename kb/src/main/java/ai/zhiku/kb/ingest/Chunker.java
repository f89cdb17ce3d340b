package ai.zhiku.kb.ingest;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a document's text into chunks of at most {@code chunkSize} characters (plus at most
 * {@code chunkOverlap} characters carried over from the previous chunk).
 *
 * <p>First the text is read as markdown-ish blocks: headings, fenced code, tables (runs of {@code |} lines)
 * and paragraphs. Blocks are packed into chunks in order; a heading starts a new chunk once the current one
 * is reasonably full, and every chunk records the heading path it starts under as its context. A table that
 * fits in twice the chunk size stays whole; a longer one is cut between rows with its header repeated. Any
 * other block that is too long is split recursively: at blank lines, then at sentence ends
 * ({@code 。！？；!?;} and newlines), then at commas ({@code ，,、}), then at spaces, then between characters.
 */
public final class Chunker {
  private static final Pattern HEADING = Pattern.compile("^(#{1,6})\\s+(.+?)\\s*#*\\s*$");
  private static final Pattern FENCE = Pattern.compile("^\\s*(```|~~~).*$");
  /** Separator levels for recursive splitting; each separator stays at the end of the piece before it. */
  private static final List<Pattern> LEVELS = List.of(
      Pattern.compile("\\n\\s*\\n"),
      Pattern.compile("[。！？；!?;]+[”’\"')）]*|\\n|\\.(?=\\s)"),
      Pattern.compile("[，,、：:]"),
      Pattern.compile("\\s+"));

  private final int chunkSize;
  private final int chunkOverlap;

  public Chunker(int chunkSize, int chunkOverlap) {
    if (chunkSize < 10) {
      throw new IllegalArgumentException("chunk size must be at least 10");
    }
    if (chunkOverlap < 0 || chunkOverlap >= chunkSize) {
      throw new IllegalArgumentException("chunk overlap must be in [0, chunk size)");
    }
    this.chunkSize = chunkSize;
    this.chunkOverlap = chunkOverlap;
  }

  private enum Kind { HEADING, PARAGRAPH, CODE, TABLE }

  private record Block(Kind kind, String text, String context) {}

  public List<Chunk> split(String document) {
    List<Block> blocks = blocks(normalise(document));
    List<Chunk> out = new ArrayList<>();
    StringBuilder buf = new StringBuilder();
    String bufContext = "";
    String previous = null; // text of the last emitted chunk, for overlap
    for (Block b : blocks) {
      if (b.kind == Kind.HEADING) {
        if (buf.length() >= chunkSize / 3) {
          previous = emit(out, bufContext, buf);
        }
        if (buf.isEmpty()) {
          bufContext = b.context;
        }
        append(buf, b.text);
        continue;
      }
      int len = b.text.length();
      if (buf.length() + 2 + len <= chunkSize) {
        if (onlyHeadings(buf)) {
          bufContext = b.context;
        }
        append(buf, b.text);
        continue;
      }
      // the block does not fit: close the current chunk unless it holds only headings
      if (!buf.isEmpty() && !onlyHeadings(buf)) {
        previous = emit(out, bufContext, buf);
      }
      String headings = buf.toString();
      buf.setLength(0);
      bufContext = b.context;
      List<String> pieces;
      if (len + headings.length() + 1 <= chunkSize) {
        pieces = List.of(b.text);
      } else if (b.kind == Kind.TABLE) {
        pieces = len <= 2 * chunkSize ? List.of(b.text) : splitTable(b.text);
      } else {
        pieces = splitText(b.text, chunkSize);
      }
      for (int p = 0; p < pieces.size(); p++) {
        String piece = pieces.get(p);
        StringBuilder chunk = new StringBuilder();
        if (p == 0 && !headings.isEmpty()) {
          append(chunk, headings.strip());
        } else if (p == 0 && previous != null && b.kind != Kind.TABLE) {
          // only a block's first piece takes the previous chunk's tail: splitText's later pieces already
          // begin with the end of the piece before them, and a second copy made chunks repeat text
          String tail = tail(previous, Math.min(chunkOverlap, Math.max(0, chunkSize - piece.length())));
          if (!tail.isEmpty()) {
            chunk.append(tail);
          }
        }
        append(chunk, piece);
        if (p < pieces.size() - 1) {
          previous = emit(out, bufContext, chunk);
        } else {
          buf = chunk; // the last piece stays open so following small blocks can join it
        }
      }
    }
    if (!buf.isEmpty()) {
      emit(out, bufContext, buf);
    }
    return out;
  }

  private static boolean onlyHeadings(StringBuilder buf) {
    if (buf.isEmpty()) {
      return true;
    }
    for (String line : buf.toString().split("\n")) {
      if (!line.isBlank() && !HEADING.matcher(line).matches()) {
        return false;
      }
    }
    return true;
  }

  private static void append(StringBuilder buf, String text) {
    if (!buf.isEmpty()) {
      buf.append("\n\n");
    }
    buf.append(text);
  }

  private static String emit(List<Chunk> out, String context, StringBuilder buf) {
    String text = buf.toString().strip();
    buf.setLength(0);
    if (!text.isEmpty()) {
      out.add(new Chunk(out.size(), context, text));
    }
    return text;
  }

  /** The last whole sentences of a text, at most max characters (none when even one is longer). */
  String tail(String text, int max) {
    if (max <= 0) {
      return "";
    }
    List<String> sentences = splitAt(text, LEVELS.get(1));
    StringBuilder tail = new StringBuilder();
    for (int i = sentences.size() - 1; i >= 0; i--) {
      String s = sentences.get(i);
      if (tail.length() + s.length() > max) {
        break;
      }
      tail.insert(0, s);
    }
    return tail.toString().strip();
  }

  // --- blocks ---------------------------------------------------------------------------------------

  private static String normalise(String text) {
    String s = text.replace("\r\n", "\n").replace('\r', '\n');
    if (!s.isEmpty() && s.charAt(0) == '\uFEFF') {
      s = s.substring(1);
    }
    return s;
  }

  private static List<Block> blocks(String text) {
    List<Block> blocks = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    String[] path = new String[7];
    StringBuilder para = new StringBuilder();
    int i = 0;
    while (i < lines.length) {
      String line = lines[i];
      Matcher h = HEADING.matcher(line);
      if (FENCE.matcher(line).matches()) {
        flush(blocks, para, Kind.PARAGRAPH, context(path));
        String fence = line.strip().substring(0, 3);
        StringBuilder code = new StringBuilder(line);
        i++;
        while (i < lines.length) {
          code.append('\n').append(lines[i]);
          if (lines[i].strip().startsWith(fence)) {
            i++;
            break;
          }
          i++;
        }
        flush(blocks, code, Kind.CODE, context(path));
        continue;
      }
      if (h.matches()) {
        flush(blocks, para, Kind.PARAGRAPH, context(path));
        int level = h.group(1).length();
        path[level] = h.group(2).strip();
        for (int l = level + 1; l < path.length; l++) {
          path[l] = null;
        }
        blocks.add(new Block(Kind.HEADING, line.strip(), context(path)));
        i++;
        continue;
      }
      if (isTableLine(line)) {
        flush(blocks, para, Kind.PARAGRAPH, context(path));
        StringBuilder table = new StringBuilder();
        while (i < lines.length && isTableLine(lines[i])) {
          if (!table.isEmpty()) {
            table.append('\n');
          }
          table.append(lines[i].strip());
          i++;
        }
        flush(blocks, table, Kind.TABLE, context(path));
        continue;
      }
      if (line.isBlank()) {
        flush(blocks, para, Kind.PARAGRAPH, context(path));
      } else {
        if (!para.isEmpty()) {
          para.append('\n');
        }
        para.append(line.stripTrailing());
      }
      i++;
    }
    flush(blocks, para, Kind.PARAGRAPH, context(path));
    return blocks;
  }

  private static boolean isTableLine(String line) {
    String s = line.strip();
    return s.length() > 1 && s.charAt(0) == '|' && s.indexOf('|', 1) > 0;
  }

  private static void flush(List<Block> blocks, StringBuilder buf, Kind kind, String context) {
    String text = buf.toString().strip();
    buf.setLength(0);
    if (!text.isEmpty()) {
      blocks.add(new Block(kind, text, context));
    }
  }

  private static String context(String[] path) {
    StringBuilder sb = new StringBuilder();
    for (String p : path) {
      if (p != null) {
        if (!sb.isEmpty()) {
          sb.append(" > ");
        }
        sb.append(p);
      }
    }
    return sb.toString();
  }

  // --- splitting long blocks ------------------------------------------------------------------------

  /** Cuts a long table between rows into pieces of at most chunkSize, each starting with the header. */
  private List<String> splitTable(String table) {
    String[] rows = table.split("\n");
    int headerRows = rows.length > 1 && rows[1].matches("\\|?[\\s:|-]+\\|?") ? 2 : 1;
    String header = String.join("\n", java.util.Arrays.copyOf(rows, headerRows));
    List<String> pieces = new ArrayList<>();
    StringBuilder piece = new StringBuilder(header);
    for (int r = headerRows; r < rows.length; r++) {
      if (piece.length() + 1 + rows[r].length() > chunkSize && piece.length() > header.length()) {
        pieces.add(piece.toString());
        piece = new StringBuilder(header);
      }
      piece.append('\n').append(rows[r]);
    }
    pieces.add(piece.toString());
    return pieces;
  }

  /** Recursive split of one long text into pieces of at most max characters, overlapping. */
  List<String> splitText(String text, int max) {
    List<String> atoms = new ArrayList<>();
    atomise(text, max, 0, atoms);
    List<String> pieces = new ArrayList<>();
    List<String> current = new ArrayList<>();
    int currentLen = 0;
    for (String atom : atoms) {
      if (currentLen + atom.length() > max && !current.isEmpty()) {
        pieces.add(String.join("", current).strip());
        // carry trailing atoms into the next piece as overlap
        List<String> carry = new ArrayList<>();
        int carryLen = 0;
        for (int k = current.size() - 1; k >= 0; k--) {
          String a = current.get(k);
          if (carryLen + a.length() > chunkOverlap || carryLen + a.length() + atom.length() > max) {
            break;
          }
          carry.add(0, a);
          carryLen += a.length();
        }
        current = carry;
        currentLen = carryLen;
      }
      current.add(atom);
      currentLen += atom.length();
    }
    if (!current.isEmpty()) {
      String last = String.join("", current).strip();
      if (!last.isEmpty()) {
        pieces.add(last);
      }
    }
    return pieces;
  }

  /** Breaks text into atoms no longer than max, using the coarsest separator level that works. */
  private static void atomise(String text, int max, int level, List<String> out) {
    if (text.length() <= max) {
      out.add(text);
      return;
    }
    if (level >= LEVELS.size()) {
      for (int i = 0; i < text.length(); i += max) {
        int end = Math.min(text.length(), i + max);
        if (end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) {
          end--;
        }
        out.add(text.substring(i, end));
        i = end - max; // compensate for a surrogate step-back
      }
      return;
    }
    for (String part : splitAt(text, LEVELS.get(level))) {
      atomise(part, max, level + 1, out);
    }
  }

  /** Splits after each separator match; the separator stays with the part before it. */
  private static List<String> splitAt(String text, Pattern separator) {
    List<String> parts = new ArrayList<>();
    Matcher m = separator.matcher(text);
    int start = 0;
    while (m.find()) {
      if (m.end() > start) {
        parts.add(text.substring(start, m.end()));
        start = m.end();
      }
    }
    if (start < text.length()) {
      parts.add(text.substring(start));
    }
    return parts;
  }
}
