package ai.zhiku.kb.ingest;

import ai.zhiku.common.ZhikuException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;
import org.apache.pdfbox.Loader;
import org.apache.pdfbox.contentstream.operator.Operator;
import org.apache.pdfbox.cos.COSBase;
import org.apache.pdfbox.io.MemoryUsageSetting;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.text.PDFTextStripper;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Element;
import org.jsoup.nodes.Node;
import org.jsoup.nodes.TextNode;

/**
 * Extracts plain text (markdown-flavoured: headings as {@code #}, tables as {@code |} rows) from the
 * supported upload formats: .txt, .md, .pdf, .docx, .html, .csv, .json. The format is chosen by the file
 * extension, falling back to the content type.
 */
public final class DocumentParser {
  public static final Set<String> SUPPORTED = Set.of("txt", "md", "markdown", "pdf", "docx", "html", "htm", "csv", "json");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Charset GB18030 = Charset.forName("GB18030");

  private DocumentParser() {}

  /** The format a file is read as, or an INVALID_REQUEST naming {@code file} when unsupported. */
  public static String formatOf(String fileName, String contentType) {
    String name = fileName.toLowerCase(Locale.ROOT);
    int dot = name.lastIndexOf('.');
    String ext = dot >= 0 ? name.substring(dot + 1) : "";
    if (SUPPORTED.contains(ext)) {
      return switch (ext) {
        case "markdown" -> "md";
        case "htm" -> "html";
        default -> ext;
      };
    }
    String ct = contentType == null ? "" : contentType.toLowerCase(Locale.ROOT);
    if (ct.startsWith("text/markdown")) return "md";
    if (ct.startsWith("text/html")) return "html";
    if (ct.startsWith("text/csv")) return "csv";
    if (ct.startsWith("application/json")) return "json";
    if (ct.startsWith("application/pdf")) return "pdf";
    if (ct.startsWith("application/vnd.openxmlformats-officedocument.wordprocessingml")) return "docx";
    if (ct.startsWith("text/plain")) return "txt";
    throw ZhikuException.invalid("file",
        "unsupported document type '" + fileName + "'; supported: .txt, .md, .pdf, .docx, .html, .csv, .json");
  }

  /** Parses with the default {@link DocumentLimits} and no cancellation. */
  public static String parse(String fileName, byte[] content, String contentType) {
    return parse(fileName, content, contentType, DocumentLimits.DEFAULTS, Cancellation.NONE);
  }

  /**
   * The document's text. Over a limit: a PAYLOAD_TOO_LARGE naming it (param {@code file}, code
   * {@code document_too_large}); cancelled: the cancellation's exception, at the next page, zip entry or read.
   */
  public static String parse(String fileName, byte[] content, String contentType, DocumentLimits limits,
      Cancellation cancellation) {
    String format = formatOf(fileName, contentType);
    ParseBudget budget = new ParseBudget(fileName, limits, cancellation);
    String text;
    try {
      text = switch (format) {
        case "txt", "md" -> decode(content);
        case "pdf" -> pdf(content, budget);
        case "docx" -> docx(content, budget);
        case "html" -> html(decode(content));
        case "csv" -> csv(decode(content));
        case "json" -> json(decode(content));
        default -> throw new IllegalStateException(format);
      };
    } catch (IOException | XMLStreamException | RuntimeException e) {
      ZhikuException z = zhikuCause(e);
      if (z != null) {
        throw z;
      }
      throw ZhikuException.invalid("file", "cannot read '" + fileName + "' as ." + format + ": " + e.getMessage());
    }
    budget.text(text.length());
    return text;
  }

  /** Our own limit or cancellation, also when a library wrapped it on the way out. */
  private static ZhikuException zhikuCause(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ZhikuException z) {
        return z;
      }
    }
    return null;
  }

  /** UTF-8 (with or without BOM); files that are not valid UTF-8 are read as GB18030 (GBK superset). */
  static String decode(byte[] bytes) {
    try {
      String s = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes)).toString();
      return s.startsWith("\uFEFF") ? s.substring(1) : s;
    } catch (CharacterCodingException e) {
      return new String(bytes, GB18030);
    }
  }

  /** PDFBox's scratch buffers: this much in memory, then temporary files up to PDF_SCRATCH_BYTES. */
  static final long PDF_MAIN_MEMORY_BYTES = 32L << 20;
  static final long PDF_SCRATCH_BYTES = 512L << 20;

  private static String pdf(byte[] content, ParseBudget budget) throws IOException {
    int maxPages = budget.limits().maxPdfPages();
    try (PDDocument doc = Loader.loadPDF(content, "", null, null,
        MemoryUsageSetting.setupMixed(PDF_MAIN_MEMORY_BYTES, PDF_SCRATCH_BYTES).streamCache)) {
      budget.check();
      if (doc.getNumberOfPages() > maxPages) {
        throw tooManyPages(budget, doc.getNumberOfPages());
      }
      PdfText stripper = new PdfText(budget);
      stripper.setSortByPosition(true);
      stripper.setParagraphEnd("\n\n");
      stripper.setPageEnd("\n\n");
      CappedText out = new CappedText(budget);
      stripper.writeText(doc, out);
      return out.toString();
    }
  }

  private static ZhikuException tooManyPages(ParseBudget budget, int pages) {
    return budget.tooLarge("has " + (pages > budget.limits().maxPdfPages() ? pages + " pages" : "more pages")
        + "; the limit on a PDF's pages is " + budget.limits().maxPdfPages());
  }

  /** The text stripper, polling the budget page by page and every few content-stream operators. */
  private static final class PdfText extends PDFTextStripper {
    private final ParseBudget budget;
    private int pages;
    private int operators;

    PdfText(ParseBudget budget) {
      this.budget = budget;
    }

    @Override
    protected void startPage(PDPage page) throws IOException {
      budget.check();
      if (++pages > budget.limits().maxPdfPages()) {
        throw tooManyPages(budget, pages); // the page tree holds more pages than its /Count said
      }
      super.startPage(page);
    }

    @Override
    protected void processOperator(Operator operator, List<COSBase> operands) throws IOException {
      if ((++operators & 63) == 0) {
        budget.check();
      }
      super.processOperator(operator, operands);
    }
  }

  /** A writer collecting text that refuses to grow past the text limit. */
  private static final class CappedText extends Writer {
    private final StringBuilder text = new StringBuilder();
    private final ParseBudget budget;

    CappedText(ParseBudget budget) {
      this.budget = budget;
    }

    @Override
    public void write(char[] buf, int off, int len) {
      budget.text((long) text.length() + len);
      text.append(buf, off, len);
    }

    @Override
    public void write(String s, int off, int len) {
      budget.text((long) text.length() + len);
      text.append(s, off, off + len);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}

    @Override
    public String toString() {
      return text.toString();
    }
  }

  // --- docx: word/document.xml read with StAX ---------------------------------------------------------

  /** One XML item (a comment, an attribute, a name) of word/document.xml may take this much input. */
  static final long MAX_XML_ITEM_BYTES = 8L << 20;

  /**
   * Reads the zip entry by entry, counting the bytes actually inflated (entries before word/document.xml are
   * inflated too, to be skipped), so a zip bomb is refused as soon as the count passes the limit, having held
   * no more than a read buffer of it.
   */
  private static String docx(byte[] content, ParseBudget budget) throws IOException, XMLStreamException {
    DocumentLimits limits = budget.limits();
    try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(content))) {
      Inflated inflated = new Inflated(zip, budget);
      int entries = 0;
      for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
        budget.check();
        if (++entries > limits.maxDocxEntries()) {
          throw budget.tooLarge("has more than " + limits.maxDocxEntries() + " zip entries before word/document.xml"
              + " (the limit on a .docx's entries)");
        }
        if (e.getName().equals("word/document.xml")) {
          return docxBody(inflated, budget);
        }
        inflated.drainEntry();
      }
    }
    throw new IOException("no word/document.xml in the archive");
  }

  /** The current zip entry's inflated bytes, counted against the .docx limits across all entries. */
  private static final class Inflated extends InputStream {
    private final ZipInputStream zip;
    private final ParseBudget budget;
    private long total;
    private long sinceMark;

    Inflated(ZipInputStream zip, ParseBudget budget) {
      this.zip = zip;
      this.budget = budget;
    }

    /** Marks an XML event: the bytes read until the next one are one item of the document. */
    void mark() {
      sinceMark = 0;
    }

    private void count(int n) {
      if (n <= 0) {
        return;
      }
      total += n;
      sinceMark += n;
      long max = budget.limits().maxDocxInflatedBytes();
      if (total > max) {
        throw budget.tooLarge("inflates to more than " + ParseBudget.mib(max)
            + " (the limit on a .docx's decompressed size)");
      }
      if (sinceMark > MAX_XML_ITEM_BYTES) {
        throw budget.tooLarge("has a single XML item over " + ParseBudget.mib(MAX_XML_ITEM_BYTES)
            + " in word/document.xml (the limit on one item of a .docx)");
      }
      budget.check();
    }

    @Override
    public int read() throws IOException {
      int b = zip.read();
      count(b < 0 ? 0 : 1);
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = zip.read(buf, off, len);
      count(n);
      return n;
    }

    void drainEntry() throws IOException {
      byte[] buf = new byte[16 << 10];
      while (read(buf, 0, buf.length) >= 0) {
        mark();
      }
    }

    @Override
    public void close() {
      // the zip is closed by its owner
    }
  }

  private static String docxBody(Inflated in, ParseBudget budget) throws XMLStreamException {
    XMLInputFactory f = XMLInputFactory.newFactory();
    f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
    f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
    f.setProperty(XMLInputFactory.IS_COALESCING, false);
    XMLStreamReader r = f.createXMLStreamReader(in);
    StringBuilder out = new StringBuilder();
    StringBuilder para = new StringBuilder();
    List<String> row = null;
    StringBuilder cell = null;
    int tableDepth = 0;
    int headingLevel = 0;
    boolean inText = false;
    while (r.hasNext()) {
      int ev = r.next();
      in.mark();
      if (ev == XMLStreamConstants.CHARACTERS || ev == XMLStreamConstants.CDATA) {
        if (inText) {
          // text arrives in pieces (not coalesced), so the limit stops a huge run before it is held
          budget.text((long) out.length() + para.length() + (cell == null ? 0 : cell.length()) + r.getTextLength());
          para.append(r.getTextCharacters(), r.getTextStart(), r.getTextLength());
        }
      } else if (ev == XMLStreamConstants.START_ELEMENT) {
        switch (r.getLocalName()) {
          case "p" -> { para.setLength(0); headingLevel = 0; }
          case "pStyle" -> headingLevel = headingLevel(r.getAttributeValue(r.getNamespaceURI(), "val"));
          case "t" -> inText = true;
          case "tab" -> para.append('\t');
          case "br", "cr" -> para.append('\n');
          case "tbl" -> { tableDepth++; out.append('\n'); }
          case "tr" -> row = new ArrayList<>();
          case "tc" -> cell = new StringBuilder();
          default -> { }
        }
      } else if (ev == XMLStreamConstants.END_ELEMENT) {
        switch (r.getLocalName()) {
          case "t" -> inText = false;
          case "p" -> {
            String text = para.toString().strip();
            if (cell != null) {
              if (!text.isEmpty()) {
                cell.append(cell.isEmpty() ? "" : " ").append(text);
              }
            } else if (!text.isEmpty()) {
              out.append(headingLevel > 0 ? "#".repeat(headingLevel) + " " : "").append(text).append("\n\n");
            }
            para.setLength(0);
          }
          case "tc" -> {
            if (row != null && cell != null) {
              row.add(cell.toString().replace("|", "/"));
            }
            cell = null;
          }
          case "tr" -> {
            if (row != null) {
              out.append("| ").append(String.join(" | ", row)).append(" |\n");
            }
            row = null;
          }
          case "tbl" -> { tableDepth--; out.append('\n'); }
          default -> { }
        }
      }
    }
    return out.toString();
  }

  private static int headingLevel(String style) {
    if (style == null) return 0;
    String s = style.toLowerCase(Locale.ROOT);
    if (s.equals("title")) return 1;
    if (s.startsWith("heading") && s.length() > 7 && Character.isDigit(s.charAt(7))) {
      return Math.min(6, s.charAt(7) - '0');
    }
    if (s.length() == 1 && Character.isDigit(s.charAt(0)) && s.charAt(0) != '0') {
      return Math.min(6, s.charAt(0) - '0'); // Chinese Word: style ids "1", "2" are 标题 1, 标题 2
    }
    return 0;
  }

  // --- html ------------------------------------------------------------------------------------------

  private static final Set<String> SKIP = Set.of("script", "style", "noscript", "template", "svg", "head", "nav");
  private static final Set<String> BLOCK = Set.of("p", "div", "section", "article", "main", "header", "footer",
      "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "br", "hr", "figure", "figcaption", "aside", "form");

  static String html(String html) {
    org.jsoup.nodes.Document doc = Jsoup.parse(html);
    StringBuilder out = new StringBuilder();
    String title = doc.title();
    if (!title.isBlank() && doc.selectFirst("h1") == null) {
      out.append("# ").append(title.strip()).append("\n\n");
    }
    walk(doc.body(), out);
    return out.toString().replaceAll("[ \\t]+\\n", "\n").replaceAll("\\n{3,}", "\n\n");
  }

  private static void walk(Node node, StringBuilder out) {
    if (node instanceof TextNode t) {
      String s = t.text();
      if (!s.isBlank()) {
        out.append(s.replaceAll("\\s+", " "));
      }
      return;
    }
    if (!(node instanceof Element e)) {
      return;
    }
    String tag = e.normalName();
    if (SKIP.contains(tag)) {
      return;
    }
    if (tag.matches("h[1-6]")) {
      out.append("\n\n").append("#".repeat(tag.charAt(1) - '0')).append(' ').append(e.text().strip()).append("\n\n");
      return;
    }
    if (tag.equals("pre")) {
      out.append("\n\n```\n").append(e.wholeText().strip()).append("\n```\n\n");
      return;
    }
    if (tag.equals("table")) {
      out.append("\n\n");
      for (Element tr : e.select("tr")) {
        List<String> cells = new ArrayList<>();
        for (Element td : tr.children()) {
          if (td.normalName().equals("td") || td.normalName().equals("th")) {
            cells.add(td.text().strip().replace("|", "/"));
          }
        }
        if (!cells.isEmpty()) {
          out.append("| ").append(String.join(" | ", cells)).append(" |\n");
        }
      }
      out.append('\n');
      return;
    }
    boolean block = BLOCK.contains(tag);
    if (block) {
      out.append(tag.equals("p") ? "\n\n" : "\n");
    }
    if (tag.equals("li")) {
      out.append("- ");
    }
    for (Node child : e.childNodes()) {
      walk(child, out);
    }
    if (block) {
      out.append(tag.equals("p") ? "\n\n" : "\n");
    }
  }

  // --- csv: rendered as a markdown table so the chunker keeps rows whole and repeats the header ----------

  static String csv(String text) {
    List<List<String>> rows = parseCsv(text);
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < rows.size(); i++) {
      List<String> row = rows.get(i);
      out.append("| ");
      for (int c = 0; c < row.size(); c++) {
        if (c > 0) out.append(" | ");
        out.append(row.get(c).replace("\n", " ").replace("|", "/").strip());
      }
      out.append(" |\n");
      if (i == 0) {
        out.append("|").append(" --- |".repeat(Math.max(1, row.size()))).append('\n');
      }
    }
    return out.toString();
  }

  static List<List<String>> parseCsv(String text) {
    List<List<String>> rows = new ArrayList<>();
    List<String> row = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    boolean any = false;
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      if (quoted) {
        if (ch == '"') {
          if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
            field.append('"');
            i++;
          } else {
            quoted = false;
          }
        } else {
          field.append(ch);
        }
      } else if (ch == '"') {
        quoted = true;
        any = true;
      } else if (ch == ',') {
        row.add(field.toString());
        field.setLength(0);
        any = true;
      } else if (ch == '\n' || ch == '\r') {
        if (ch == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') i++;
        if (any || field.length() > 0) {
          row.add(field.toString());
          rows.add(row);
        }
        row = new ArrayList<>();
        field.setLength(0);
        any = false;
      } else {
        field.append(ch);
        any = true;
      }
    }
    if (any || field.length() > 0) {
      row.add(field.toString());
      rows.add(row);
    }
    return rows;
  }

  // --- json: flattened to "path: value" lines, one paragraph per top-level array element ---------------

  static String json(String text) throws IOException {
    JsonNode root = JSON.readTree(text);
    StringBuilder out = new StringBuilder();
    if (root != null && root.isArray()) {
      for (JsonNode item : root) {
        flatten("", item, out);
        out.append('\n');
      }
    } else if (root != null) {
      flatten("", root, out);
    }
    return out.toString();
  }

  private static void flatten(String path, JsonNode node, StringBuilder out) {
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> f = it.next();
        flatten(path.isEmpty() ? f.getKey() : path + "." + f.getKey(), f.getValue(), out);
      }
    } else if (node.isArray()) {
      int i = 0;
      for (JsonNode item : node) {
        flatten(path + "[" + i++ + "]", item, out);
      }
    } else if (!node.isNull()) {
      out.append(path.isEmpty() ? "" : path + ": ").append(node.asText()).append('\n');
    }
  }
}
