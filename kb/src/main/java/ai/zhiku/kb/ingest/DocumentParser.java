package ai.zhiku.kb.ingest;

import ai.zhiku.common.ZhikuException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
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
import org.apache.pdfbox.pdmodel.PDDocument;
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

  public static String parse(String fileName, byte[] content, String contentType) {
    String format = formatOf(fileName, contentType);
    try {
      return switch (format) {
        case "txt", "md" -> decode(content);
        case "pdf" -> pdf(content);
        case "docx" -> docx(content);
        case "html" -> html(decode(content));
        case "csv" -> csv(decode(content));
        case "json" -> json(decode(content));
        default -> throw new IllegalStateException(format);
      };
    } catch (IOException | XMLStreamException | RuntimeException e) {
      if (e instanceof ZhikuException z) {
        throw z;
      }
      throw ZhikuException.invalid("file", "cannot read '" + fileName + "' as ." + format + ": " + e.getMessage());
    }
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

  private static String pdf(byte[] content) throws IOException {
    try (PDDocument doc = Loader.loadPDF(content)) {
      PDFTextStripper stripper = new PDFTextStripper();
      stripper.setSortByPosition(true);
      stripper.setParagraphEnd("\n\n");
      stripper.setPageEnd("\n\n");
      return stripper.getText(doc);
    }
  }

  // --- docx: word/document.xml read with StAX ---------------------------------------------------------

  private static String docx(byte[] content) throws IOException, XMLStreamException {
    try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(content))) {
      for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
        if (e.getName().equals("word/document.xml")) {
          return docxBody(zip);
        }
      }
    }
    throw new IOException("no word/document.xml in the archive");
  }

  private static String docxBody(InputStream in) throws XMLStreamException {
    XMLInputFactory f = XMLInputFactory.newFactory();
    f.setProperty(XMLInputFactory.SUPPORT_DTD, false);
    f.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
    XMLStreamReader r = f.createXMLStreamReader(in);
    StringBuilder out = new StringBuilder();
    StringBuilder para = new StringBuilder();
    List<String> row = null;
    StringBuilder cell = null;
    int tableDepth = 0;
    int headingLevel = 0;
    while (r.hasNext()) {
      int ev = r.next();
      if (ev == XMLStreamConstants.START_ELEMENT) {
        switch (r.getLocalName()) {
          case "p" -> { para.setLength(0); headingLevel = 0; }
          case "pStyle" -> headingLevel = headingLevel(r.getAttributeValue(r.getNamespaceURI(), "val"));
          case "t" -> para.append(r.getElementText());
          case "tab" -> para.append('\t');
          case "br", "cr" -> para.append('\n');
          case "tbl" -> { tableDepth++; out.append('\n'); }
          case "tr" -> row = new ArrayList<>();
          case "tc" -> cell = new StringBuilder();
          default -> { }
        }
      } else if (ev == XMLStreamConstants.END_ELEMENT) {
        switch (r.getLocalName()) {
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
