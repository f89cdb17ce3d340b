package ai.zhiku.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.ResponseFormat;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenLogprob;
import ai.zhiku.common.engine.ToolChoice;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import ai.zhiku.inference.sampling.Logprobs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Completions' echo with logprobs: each prompt token's logprob given the tokens before it, from the
 * engine's chunked prefill (a prompt longer than one chunk, beside another sequence, with a shared
 * prefix that must not be skipped), equal to the model's own distribution computed in one pass.
 */
class PromptLogprobsTest {
  static final class LogprobSink extends CollectingSink {
    final List<TokenLogprob> logprobs = new CopyOnWriteArrayList<>();
    final List<Integer> logprobsBeforeText = new CopyOnWriteArrayList<>();

    @Override
    public void onLogprob(TokenLogprob lp) { logprobs.add(lp); }

    @Override
    public void onText(String text, int tokens) {
      if (deltas.isEmpty()) logprobsBeforeText.add(logprobs.size());
      super.onText(text, tokens);
    }
  }

  @Test
  void promptTokensGetTheModelsOwnLogprobs() throws Exception {
    ChatModel m = ModelFamilies.load(Goldens.dir("internlm2-tiny"), Engines.cpu(), Precision.FLOAT32);
    String prompt = "知识库问答：".repeat(20) + "北京明天天气怎么样?";
    int[] ids = m.tokenizer().encode(prompt, true);
    assertThat(ids.length).isGreaterThan(3 * LocalChatEngine.PREFILL_CHUNK_MIN);
    int vocab = m.model().config().vocabSize();
    float[][] rows;
    try (KvCache cache = m.model().newCache(ids.length / KvCache.DEFAULT_BLOCK_SIZE + 2)) {
      int[] table = new int[ids.length / KvCache.DEFAULT_BLOCK_SIZE + 2];
      for (int i = 0; i < table.length; i++) table[i] = i;
      rows = m.model().forward(List.of(new SeqStep(table, ids, 0)), cache, true);
    }
    try (LocalChatEngine e = new LocalChatEngine(m, m.template(), 4, m.model().kvBytesPerToken(false) * KvCache.DEFAULT_BLOCK_SIZE * 64)) {
      // the same prompt first without logprobs, so its blocks are in the prefix cache
      CollectingSink warm = new CollectingSink();
      e.submit(new GenerationRequest("warm", PromptInput.ofPrompt(prompt), params(), false), warm);
      warm.await();
      LogprobSink s = new LogprobSink();
      CollectingSink other = new CollectingSink();
      e.submit(new GenerationRequest("echo", PromptInput.ofPrompt(prompt), params(), true, ToolChoice.AUTO, ResponseFormat.TEXT, 3, Map.of()), s);
      e.submit(new GenerationRequest("other", PromptInput.ofPrompt("你好"), params(), false), other);
      s.await();
      other.await();
      assertThat(s.text()).startsWith(prompt);
      assertThat(s.logprobsBeforeText).containsExactly(ids.length); // every prompt logprob, then the echo
      assertThat(s.logprobs).hasSize(ids.length + 4);
      assertThat(s.logprobs.get(0).logprob()).isNaN();
      for (int k = 1; k < ids.length; k++) {
        Logprobs ref = Logprobs.of(rows[k - 1], 0, vocab, 1f, ids[k], 3);
        TokenLogprob got = s.logprobs.get(k);
        assertThat(got.logprob()).as("prompt token %d", k).isCloseTo(ref.chosenLogprob(), within(1e-4f));
        assertThat(got.top()).hasSize(3);
        assertThat(got.top().get(0).logprob()).isCloseTo(ref.logprobs()[0], within(1e-4f));
      }
      List<String> generated = new ArrayList<>(s.deltas.subList(1, s.deltas.size()));
      assertThat(String.join("", generated)).isEqualTo(warm.text()); // the output itself is unchanged
    }
  }

  static SamplingParams params() {
    return new SamplingParams(0f, null, null, 4, List.of(), null, null, null, null);
  }
}
