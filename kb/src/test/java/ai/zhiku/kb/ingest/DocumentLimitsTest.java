package ai.zhiku.kb.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.font.PDType1Font;
import org.apache.pdfbox.pdmodel.font.Standard14Fonts;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * The caps on reading one document: a .docx zip bomb, too many zip entries or one huge XML item, PDFs over
 * the page cap or the parse time, text over the text cap, and a cancelled parse; ordinary files still parse.
 */
class DocumentLimitsTest {
  private static final String HEAD = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      + "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>";
  private static final String TAIL = "</w:body></w:document>";

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A zip whose entry {@code name} is head, then {@code fill} repeated to {@code fillBytes}, then tail. */
  private static byte[] zip(String name, String head, char fill, long fillBytes, String tail) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      zip.setLevel(Deflater.BEST_COMPRESSION);
      zip.putNextEntry(new ZipEntry(name));
      zip.write(utf8(head));
      byte[] block = new byte[1 << 20];
      Arrays.fill(block, (byte) fill);
      for (long left = fillBytes; left > 0; left -= block.length) {
        zip.write(block, 0, (int) Math.min(block.length, left));
      }
      zip.write(utf8(tail));
      zip.closeEntry();
      if (!name.equals("word/document.xml")) {
        zip.putNextEntry(new ZipEntry("word/document.xml"));
        zip.write(utf8(HEAD + "<w:p><w:r><w:t>after the filler</w:t></w:r></w:p>" + TAIL));
        zip.closeEntry();
      }
    }
    return bytes.toByteArray();
  }

  private static void assertTooLarge(ThrowingCallable call, String... inMessage) {
    assertThatThrownBy(call).isInstanceOfSatisfying(ZhikuException.class, e -> {
      assertThat(e.kind()).as(e.getMessage()).isEqualTo(ErrorKind.PAYLOAD_TOO_LARGE);
      assertThat(e.param()).isEqualTo("file");
      assertThat(e.code()).isEqualTo("document_too_large");
      assertThat(e.getMessage()).contains(inMessage);
    });
  }

  @Test
  void docxZipBombIsRefusedAsSoonAsTheInflatedBytesPassTheCap() throws Exception {
    // 600 MiB of XML whitespace in word/document.xml deflates to well under a megabyte
    byte[] bomb = zip("word/document.xml", HEAD, ' ', 600L << 20, TAIL);
    assertThat(bomb.length).isLessThan(1 << 20);
    long start = System.nanoTime();
    assertTooLarge(() -> DocumentParser.parse("bomb.docx", bomb, null), "256 MiB", "decompressed size");
    long ms = (System.nanoTime() - start) / 1_000_000;
    System.out.printf("a 600 MiB docx bomb (%d bytes zipped) refused in %d ms%n", bomb.length, ms);
    // stopping at the cap (under half of the bomb) and not reading it whole: well under the time of a full read
    assertThat(ms).as("refused after %d ms", ms).isLessThan(15_000);
  }

  @Test
  void bytesInflatedToSkipEarlierEntriesCountToo() throws Exception {
    byte[] bomb = zip("word/media/image1.png", "", 'x', 64L << 20, "");
    DocumentLimits limits = DocumentLimits.DEFAULTS.withMaxDocxInflatedBytes(16L << 20);
    assertTooLarge(() -> DocumentParser.parse("bomb.docx", bomb, null, limits, Cancellation.NONE), "16 MiB",
        "decompressed size");
    // with room for it, the same file is an ordinary document
    assertThat(DocumentParser.parse("bomb.docx", bomb, null)).contains("after the filler");
  }

  @Test
  void docxEntriesAreCapped() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      for (int i = 0; i < 50; i++) {
        zip.putNextEntry(new ZipEntry("customXml/item" + i + ".xml"));
        zip.write(utf8("<a/>"));
        zip.closeEntry();
      }
      zip.putNextEntry(new ZipEntry("word/document.xml"));
      zip.write(utf8(HEAD + "<w:p><w:r><w:t>正文</w:t></w:r></w:p>" + TAIL));
      zip.closeEntry();
    }
    byte[] docx = bytes.toByteArray();
    assertTooLarge(() -> DocumentParser.parse("many.docx", docx, null,
        DocumentLimits.DEFAULTS.withMaxDocxEntries(20), Cancellation.NONE), "20 zip entries");
    assertThat(DocumentParser.parse("many.docx", docx, null)).contains("正文");
  }

  @Test
  void oneHugeXmlItemIsRefusedBeforeTheParserHoldsIt() throws Exception {
    // a comment is one event: the parser would buffer all of it
    byte[] docx = zip("word/document.xml", HEAD + "<!--", 'c', 32L << 20, "-->" + TAIL);
    assertTooLarge(() -> DocumentParser.parse("comment.docx", docx, null), "single XML item", "8 MiB");
  }

  @Test
  void textIsCappedInEveryFormat() throws Exception {
    DocumentLimits limits = DocumentLimits.DEFAULTS.withMaxTextChars(10_000);
    assertTooLarge(() -> DocumentParser.parse("a.txt", utf8("字".repeat(10_001)), null, limits, Cancellation.NONE),
        "10,000 characters", "extracted text");
    assertThat(DocumentParser.parse("a.txt", utf8("字".repeat(10_000)), null, limits, Cancellation.NONE)).hasSize(10_000);
    // one long run of text in a .docx is refused while it is read, not after
    byte[] docx = zip("word/document.xml", HEAD + "<w:p><w:r><w:t>", 'w', 1L << 20, "</w:t></w:r></w:p>" + TAIL);
    assertTooLarge(() -> DocumentParser.parse("long.docx", docx, null, limits, Cancellation.NONE), "extracted text");
    byte[] pdf = pdf(40, "a line of text on every page that adds up");
    assertTooLarge(() -> DocumentParser.parse("long.pdf", pdf, null, DocumentLimits.DEFAULTS.withMaxTextChars(500),
        Cancellation.NONE), "500 characters", "extracted text");
  }

  @Test
  void pdfPagesAreCapped() throws Exception {
    byte[] pages = pdf(2_001, null);
    assertTooLarge(() -> DocumentParser.parse("many.pdf", pages, "application/pdf"), "2001 pages", "2000");
    byte[] five = pdf(5, "page text");
    assertTooLarge(() -> DocumentParser.parse("five.pdf", five, null, DocumentLimits.DEFAULTS.withMaxPdfPages(4),
        Cancellation.NONE), "5 pages", "the limit on a PDF's pages is 4");
    assertThat(DocumentParser.parse("five.pdf", five, null, DocumentLimits.DEFAULTS.withMaxPdfPages(5),
        Cancellation.NONE)).contains("page text");
  }

  @Test
  void pdfParseTimeIsCapped() throws Exception {
    byte[] pdf = pdf(50, "slow to read");
    assertTooLarge(() -> DocumentParser.parse("slow.pdf", pdf, null,
        DocumentLimits.DEFAULTS.withMaxParseTime(Duration.ofNanos(1)), Cancellation.NONE), "parse time");
  }

  @Test
  void aCancelledParseStops() throws Exception {
    Cancellation cancel = new Cancellation();
    cancel.cancel("the client disconnected");
    byte[] pdf = pdf(3, "text");
    assertThatThrownBy(() -> DocumentParser.parse("c.pdf", pdf, null, DocumentLimits.DEFAULTS, cancel))
        .isInstanceOfSatisfying(ZhikuException.class, e -> {
          assertThat(e.code()).isEqualTo(Cancellation.CODE);
          assertThat(e.getMessage()).contains("the client disconnected");
        });
  }

  @Test
  void ordinaryDocumentsStillParse() throws Exception {
    byte[] docx = zip("word/document.xml", HEAD + "<w:p><w:r><w:t>第一段</w:t></w:r><w:r><w:t xml:space=\"preserve\"> 续</w:t>"
        + "</w:r></w:p>", ' ', 4096, "<w:p><w:r><w:t><![CDATA[a < b]]></w:t></w:r></w:p>" + TAIL);
    assertThat(DocumentParser.parse("ok.docx", docx, null)).isEqualTo("第一段 续\n\na < b\n\n");
    String pdfText = DocumentParser.parse("ok.pdf", pdf(3, "HNSW on page"), null);
    assertThat(pdfText).contains("HNSW on page 1", "HNSW on page 2", "HNSW on page 3");
  }

  /** A PDF of {@code pages} pages, each with "{text} {n}" when text is not null. */
  static byte[] pdf(int pages, String text) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PDDocument doc = new PDDocument()) {
      PDType1Font font = new PDType1Font(Standard14Fonts.FontName.HELVETICA);
      for (int i = 1; i <= pages; i++) {
        PDPage page = new PDPage();
        doc.addPage(page);
        if (text != null) {
          try (PDPageContentStream cs = new PDPageContentStream(doc, page)) {
            cs.beginText();
            cs.setFont(font, 12);
            cs.newLineAtOffset(72, 700);
            cs.showText(text + " " + i);
            cs.endText();
          }
        }
      }
      doc.save(bytes);
    }
    return bytes.toByteArray();
  }
}
