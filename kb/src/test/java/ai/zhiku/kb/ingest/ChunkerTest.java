package ai.zhiku.kb.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ChunkerTest {
  @Test
  void respectsSizeAndKeepsEverySentence() {
    StringBuilder doc = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      doc.append("第").append(i).append("句话说明向量数据库的一个事实，并且带有编号").append(i).append("。");
    }
    Chunker chunker = new Chunker(200, 40);
    List<Chunk> chunks = chunker.split(doc.toString());
    assertThat(chunks.size()).isGreaterThan(5);
    for (Chunk c : chunks) {
      assertThat(c.text().length()).isLessThanOrEqualTo(200);
    }
    String all = String.join("\n", chunks.stream().map(Chunk::text).toList());
    for (int i = 0; i < 60; i++) {
      assertThat(all).contains("第" + i + "句话说明向量数据库的一个事实，并且带有编号" + i + "。");
    }
    // split at sentence ends, not inside a sentence
    for (Chunk c : chunks) {
      assertThat(c.text()).endsWith("。");
    }
  }

  @Test
  void consecutiveChunksOverlap() {
    StringBuilder doc = new StringBuilder();
    for (int i = 0; i < 30; i++) {
      doc.append("句子").append(i).append("讲的是重叠。");
    }
    List<Chunk> chunks = new Chunker(100, 30).split(doc.toString());
    assertThat(chunks.size()).isGreaterThan(2);
    for (int i = 1; i < chunks.size(); i++) {
      String prev = chunks.get(i - 1).text();
      String next = chunks.get(i).text();
      int shared = 0;
      for (int n = 1; n <= Math.min(prev.length(), next.length()); n++) {
        if (prev.endsWith(next.substring(0, n))) {
          shared = n;
        }
      }
      assertThat(shared).as("chunk %d starts with the end of chunk %d", i, i - 1).isBetween(9, 30);
      assertThat(next.substring(shared)).as("and then goes on with new text").isNotEmpty();
    }
  }

  @Test
  void carriesHeadingsAsContext() {
    String md = """
        # 向量数据库

        ## Milvus

        Milvus 是云原生的向量数据库。%s

        ## Faiss

        Faiss 是 Facebook 的相似性搜索库。
        """.formatted("它支持很多索引。".repeat(30));
    List<Chunk> chunks = new Chunker(150, 20).split(md);
    assertThat(chunks).anySatisfy(c -> {
      assertThat(c.context()).isEqualTo("向量数据库 > Milvus");
      assertThat(c.text()).contains("Milvus 是云原生");
    });
    assertThat(chunks).anySatisfy(c -> {
      assertThat(c.context()).isEqualTo("向量数据库 > Faiss");
      assertThat(c.text()).contains("Faiss 是 Facebook");
    });
    // every piece of the long Milvus section knows it is under Milvus
    assertThat(chunks.stream().filter(c -> c.text().contains("它支持很多索引")))
        .allSatisfy(c -> assertThat(c.context()).isEqualTo("向量数据库 > Milvus"));
    assertThat(chunks.get(0).indexedText()).startsWith("向量数据库 > Milvus\n");
  }

  @Test
  void keepsTablesWholeAndRepeatsHeaderWhenTooLong() {
    String table = """
        | model | top1 | top5 |
        | --- | --- | --- |
        | bge | 0.8113 | 0.9660 |
        | m3e | 0.7811 | 0.9472 |""";
    List<Chunk> chunks = new Chunker(100, 20).split("说明文字。\n\n" + table + "\n\n后面的文字。");
    assertThat(chunks).anySatisfy(c -> assertThat(c.text()).contains(table));

    StringBuilder big = new StringBuilder("| k | v |\n| --- | --- |\n");
    for (int i = 0; i < 40; i++) {
      big.append("| key").append(i).append(" | value").append(i).append(" |\n");
    }
    List<Chunk> parts = new Chunker(120, 20).split(big.toString());
    assertThat(parts.size()).isGreaterThan(3);
    assertThat(parts).allSatisfy(c -> assertThat(c.text()).startsWith("| k | v |\n| --- | --- |"));
    String all = String.join("\n", parts.stream().map(Chunk::text).toList());
    for (int i = 0; i < 40; i++) {
      assertThat(all).contains("| key" + i + " | value" + i + " |");
    }
  }

  @Test
  void splitsUnpunctuatedTextAtCommasThenCharacters() {
    String commas = "这是一段没有句号的长文本，".repeat(40);
    List<Chunk> chunks = new Chunker(100, 0).split(commas);
    assertThat(chunks).allSatisfy(c -> {
      assertThat(c.text().length()).isLessThanOrEqualTo(100);
      assertThat(c.text()).endsWith("，");
    });
    List<Chunk> raw = new Chunker(50, 0).split("字".repeat(260));
    assertThat(raw).hasSize(6);
    assertThat(raw.stream().mapToInt(c -> c.text().length()).sum()).isEqualTo(260);
  }

  @Test
  void keepsFencedCodeTogetherAndIgnoresHashInsideIt() {
    String md = "# 标题\n\n```python\n# not a heading\nprint(1)\n```\n\n正文。";
    List<Chunk> chunks = new Chunker(500, 50).split(md);
    assertThat(chunks).hasSize(1);
    assertThat(chunks.get(0).context()).isEqualTo("标题");
    assertThat(chunks.get(0).text()).contains("# not a heading\nprint(1)");
  }
}
