package ai.zhiku.kb.search;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Splits text into keyword-search terms. Chinese (and Japanese, Korean) have no spaces between words, so a
 * run of CJK characters becomes its overlapping character bigrams (a lone character stays a unigram). Runs of
 * Latin letters and digits become whole lower-cased words; a word with inner joiners ({@code . _ - +}), such as
 * a version {@code 2.1.4} or a name {@code chatglm2-6b}, is kept whole and also split into its parts, so both an
 * exact version and its pieces match. Text is NFKC-normalised first (full-width letters and digits fold to
 * ASCII). The same analysis runs on chunks when they are stored and on queries.
 */
public final class KeywordAnalyzer {
  /** Question words: common in queries, rare in documents, so they would get a high IDF and pull noise. */
  private static final Set<String> QUERY_STOP_TERMS = Set.of(
      "什么", "多少", "哪个", "哪些", "哪种", "哪里", "哪一", "怎么", "怎样", "如何", "为什", "是什", "么是",
      "是多", "是哪", "请问", "一下", "是否", "吗", "呢", "么", "的", "了", "是", "用", "在", "中", "提到",
      "文中", "中提", "到的", "what", "which", "how", "is", "the", "a", "an", "of", "does", "do", "in", "are",
      "to", "for", "and", "was", "were");

  private KeywordAnalyzer() {}

  /** Term frequencies of a stored text, in first-occurrence order. */
  public static Map<String, Integer> termFrequencies(String text) {
    Map<String, Integer> tf = new LinkedHashMap<>();
    for (String t : terms(text)) {
      tf.merge(t, 1, Integer::sum);
    }
    return tf;
  }

  /** Query terms with their counts, question words removed (unless nothing else is left). */
  public static Map<String, Integer> queryTerms(String query) {
    Map<String, Integer> all = termFrequencies(query);
    Map<String, Integer> kept = new LinkedHashMap<>();
    all.forEach((t, n) -> {
      if (!QUERY_STOP_TERMS.contains(t)) {
        kept.put(t, n);
      }
    });
    return kept.isEmpty() ? all : kept;
  }

  /** All terms of a text, in order, with repetitions. */
  public static List<String> terms(String text) {
    String s = Normalizer.normalize(text, Normalizer.Form.NFKC).toLowerCase(java.util.Locale.ROOT);
    List<String> out = new ArrayList<>();
    int n = s.length();
    int i = 0;
    while (i < n) {
      int cp = s.codePointAt(i);
      if (isCjk(cp)) {
        int start = i;
        List<Integer> run = new ArrayList<>();
        while (i < n && isCjk(s.codePointAt(i))) {
          run.add(s.codePointAt(i));
          i += Character.charCount(s.codePointAt(i));
        }
        if (run.size() == 1) {
          out.add(s.substring(start, i));
        } else {
          for (int k = 0; k + 1 < run.size(); k++) {
            out.add(new StringBuilder().appendCodePoint(run.get(k)).appendCodePoint(run.get(k + 1)).toString());
          }
        }
      } else if (isWordChar(cp)) {
        int start = i;
        boolean joined = false;
        while (i < n) {
          int c = s.codePointAt(i);
          if (isWordChar(c)) {
            i += Character.charCount(c);
          } else if (isJoiner(c) && i + 1 < n && isWordChar(s.codePointAt(i + 1)) && i > start) {
            joined = true;
            i += 1;
          } else {
            break;
          }
        }
        String word = s.substring(start, i);
        out.add(word);
        if (joined) {
          for (String part : word.split("[._+\\-]")) {
            if (!part.isEmpty()) {
              out.add(part);
            }
          }
        }
      } else {
        i += Character.charCount(cp);
      }
    }
    return out;
  }

  private static boolean isWordChar(int cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')
        || (Character.isLetterOrDigit(cp) && !isCjk(cp) && cp > 0x7f);
  }

  private static boolean isJoiner(int cp) {
    return cp == '.' || cp == '_' || cp == '-' || cp == '+';
  }

  static boolean isCjk(int cp) {
    Character.UnicodeScript script = Character.UnicodeScript.of(cp);
    return script == Character.UnicodeScript.HAN || script == Character.UnicodeScript.HIRAGANA
        || script == Character.UnicodeScript.KATAKANA || script == Character.UnicodeScript.HANGUL;
  }

  /** Whether a text is mostly CJK (decides the prompt language). */
  public static boolean containsCjk(String text) {
    return text.codePoints().anyMatch(KeywordAnalyzer::isCjk);
  }
}
