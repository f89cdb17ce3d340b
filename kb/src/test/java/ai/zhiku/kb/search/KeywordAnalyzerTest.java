package ai.zhiku.kb.search;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KeywordAnalyzerTest {
  @Test
  void chineseRunsBecomeBigrams() {
    assertThat(KeywordAnalyzer.terms("向量数据库")).containsExactly("向量", "量数", "数据", "据库");
    assertThat(KeywordAnalyzer.terms("是")).containsExactly("是");
  }

  @Test
  void wordsAndVersionsStayWholeAndAlsoSplit() {
    assertThat(KeywordAnalyzer.terms("pymilvus == 2.1.3")).containsExactly("pymilvus", "2.1.3", "2", "1", "3");
    assertThat(KeywordAnalyzer.terms("ChatGLM2-6b，13700K+4070"))
        .containsExactly("chatglm2-6b", "chatglm2", "6b", "13700k+4070", "13700k", "4070");
    assertThat(KeywordAnalyzer.terms("版本v0.7.3。")).containsExactly("版本", "v0.7.3", "v0", "7", "3");
  }

  @Test
  void foldsFullWidthForms() {
    assertThat(KeywordAnalyzer.terms("ＧＰＵ１２")).containsExactly("gpu12");
  }

  @Test
  void queryDropsQuestionWords() {
    assertThat(KeywordAnalyzer.queryTerms("Milvus有多少star？").keySet())
        .contains("milvus", "star").doesNotContain("多少");
    // a query made only of stop words is kept as is
    assertThat(KeywordAnalyzer.queryTerms("什么").keySet()).containsExactly("什么");
  }
}
