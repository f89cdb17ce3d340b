package ai.zhiku.kb.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.ErrorKind;
import ai.zhiku.common.ZhikuException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.font.PDType1Font;
import org.apache.pdfbox.pdmodel.font.Standard14Fonts;
import org.junit.jupiter.api.Test;

class DocumentParserTest {
  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void textWithBomAndGbkFallback() {
    assertThat(DocumentParser.parse("a.txt", utf8("\uFEFF你好"), null)).isEqualTo("你好");
    byte[] gbk = "知识库问答".getBytes(Charset.forName("GBK"));
    assertThat(DocumentParser.parse("b.md", gbk, null)).isEqualTo("知识库问答");
  }

  @Test
  void csvBecomesMarkdownTable() {
    String csv = "model,dim\n\"m3e, base\",768\nbge,\"1\"\"024\"\n";
    assertThat(DocumentParser.parse("t.csv", utf8(csv), null))
        .isEqualTo("| model | dim |\n| --- | --- |\n| m3e, base | 768 |\n| bge | 1\"024 |\n");
  }

  @Test
  void jsonIsFlattenedToPaths() {
    String json = "{\"date\":\"2023.07.08\",\"tags\":[\"ai\",\"llm\"],\"meta\":{\"gpu\":\"4070\"}}";
    assertThat(DocumentParser.parse("d.json", utf8(json), null))
        .contains("date: 2023.07.08\n", "tags[0]: ai\n", "tags[1]: llm\n", "meta.gpu: 4070\n");
  }

  @Test
  void htmlKeepsHeadingsTablesAndDropsScripts() {
    String html = "<html><head><title>T</title><script>var x=1;</script></head><body>"
        + "<h2>向量数据库</h2><p>Milvus 很快。</p><table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
        + "<ul><li>一</li><li>二</li></ul></body></html>";
    String text = DocumentParser.parse("p.html", utf8(html), null);
    assertThat(text).contains("## 向量数据库", "Milvus 很快。", "| a | b |", "| 1 | 2 |", "- 一", "- 二")
        .doesNotContain("var x");
  }

  @Test
  void docxParagraphsHeadingsAndTables() throws Exception {
    String xml = """
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
        <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>安装</w:t></w:r></w:p>
        <w:p><w:r><w:t>pip install </w:t></w:r><w:r><w:t>fschat</w:t></w:r></w:p>
        <w:tbl><w:tr><w:tc><w:p><w:r><w:t>名称</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>版本</w:t></w:r></w:p></w:tc></w:tr>
        <w:tr><w:tc><w:p><w:r><w:t>Gradio</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>3.28.3</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
        </w:body></w:document>""";
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      zip.putNextEntry(new ZipEntry("word/document.xml"));
      zip.write(utf8(xml));
      zip.closeEntry();
    }
    String text = DocumentParser.parse("w.docx", bytes.toByteArray(), null);
    assertThat(text).contains("# 安装\n", "pip install fschat", "| 名称 | 版本 |", "| Gradio | 3.28.3 |");
  }

  @Test
  void pdfText() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PDDocument doc = new PDDocument()) {
      PDPage page = new PDPage();
      doc.addPage(page);
      try (PDPageContentStream cs = new PDPageContentStream(doc, page)) {
        cs.beginText();
        cs.setFont(new PDType1Font(Standard14Fonts.FontName.HELVETICA), 12);
        cs.newLineAtOffset(72, 700);
        cs.showText("pgvector HNSW index 0.8.0");
        cs.endText();
      }
      doc.save(bytes);
    }
    assertThat(DocumentParser.parse("x.pdf", bytes.toByteArray(), "application/pdf"))
        .contains("pgvector HNSW index 0.8.0");
  }

  @Test
  void rejectsUnsupportedAndBrokenFiles() {
    assertThatThrownBy(() -> DocumentParser.parse("a.exe", new byte[] {1}, "application/octet-stream"))
        .isInstanceOfSatisfying(ZhikuException.class, e -> {
          assertThat(e.kind()).isEqualTo(ErrorKind.INVALID_REQUEST);
          assertThat(e.param()).isEqualTo("file");
        });
    assertThatThrownBy(() -> DocumentParser.parse("a.pdf", utf8("not a pdf"), null))
        .isInstanceOfSatisfying(ZhikuException.class, e -> assertThat(e.param()).isEqualTo("file"));
    assertThat(DocumentParser.formatOf("noext", "text/markdown; charset=utf-8")).isEqualTo("md");
  }
}
