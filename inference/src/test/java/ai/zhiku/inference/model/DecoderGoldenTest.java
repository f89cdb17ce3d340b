package ai.zhiku.inference.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Both decoders against the outputs of their official modeling code (float32, tolerance 1e-3). */
class DecoderGoldenTest {
  private static final double TOL = 1e-3;

  static int[] ints(JsonNode a) {
    int[] r = new int[a.size()];
    for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
    return r;
  }

  static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return best;
  }

  static void assertLogits(float[] ours, JsonNode golden, String what) {
    assertThat(ours).hasSize(golden.size());
    double max = 0;
    for (int i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i] - golden.get(i).asDouble()));
    assertThat(max).as("max abs diff of %s", what).isLessThanOrEqualTo(TOL);
  }

  static void assertTop(float[] ours, JsonNode top, String what) {
    for (JsonNode e : top) {
      assertThat((double) ours[e.get(0).asInt()]).as("%s logit of %s", what, e.get(0).asInt())
          .isCloseTo(e.get(1).asDouble(), org.assertj.core.data.Offset.offset(TOL));
    }
  }

  static void assertStep(float[] ours, JsonNode step, String what) {
    assertTop(ours, step.get("top5"), what);
    assertThat((double) ours[step.get("id").asInt()]).isCloseTo(step.get("logit").asDouble(), org.assertj.core.data.Offset.offset(TOL));
    if (step.get("margin").asDouble() >= 2e-3) assertThat(argmax(ours)).as("%s argmax", what).isEqualTo(step.get("id").asInt());
  }

  @ParameterizedTest
  @ValueSource(strings = {"chatglm2-tiny", "internlm2-tiny", "chatglm3-tiny", "qwen2-tiny"})
  void casesMatchOfficialCode(String name) {
    JsonNode g = Goldens.json(name, "golden.json");
    try (ChatModel cm = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), Precision.FLOAT32);
         KvCache cache = cm.model().newCache(Tables.blocks())) {
      DecoderModel m = cm.model();
      for (JsonNode c : g.get("cases")) {
        String cn = name + "/" + c.get("name").asText();
        int[] ids = ints(c.get("input_ids"));
        float[][] all = m.forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cache, true);
        assertThat(all).hasNumberOfRows(ids.length);
        JsonNode pa = c.get("prefill_argmax");
        for (int p = 0; p < ids.length; p++) {
          double expected = pa.get(p).get(1).asDouble();
          assertThat((double) all[p][argmax(all[p])]).as("%s prefill max at %d", cn, p).isCloseTo(expected, org.assertj.core.data.Offset.offset(TOL));
          assertThat((double) all[p][pa.get(p).get(0).asInt()]).isCloseTo(expected, org.assertj.core.data.Offset.offset(TOL));
        }
        float[] last = all[ids.length - 1];
        assertLogits(last, c.get("last_logits"), cn + " last_logits");
        assertTop(last, c.get("last_logits_top10"), cn + " top10");
        // greedy with teacher forcing through the KV cache
        JsonNode steps = c.get("greedy").get("steps");
        int[] newIds = ints(c.get("greedy").get("new_ids"));
        assertStep(last, steps.get(0), cn + " step 0");
        int pos = ids.length;
        for (int s = 1; s < newIds.length; s++) {
          float[] logits = m.forward(List.of(new SeqStep(Tables.slot(0), new int[] {newIds[s - 1]}, pos++)), cache, false)[0];
          assertStep(logits, steps.get(s), cn + " step " + s);
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"chatglm2-tiny", "internlm2-tiny", "chatglm3-tiny", "qwen2-tiny"})
  void paddedBatchRowsMatchWhenRunUnpaddedTogether(String name) {
    JsonNode b = Goldens.json(name, "golden.json").get("batch");
    try (ChatModel cm = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), Precision.FLOAT32);
         KvCache cache = cm.model().newCache(Tables.blocks())) {
      List<SeqStep> batch = new ArrayList<>();
      int[] pos = new int[2];
      for (int r = 0; r < 2; r++) {
        int[] ids = ints(b.get("input_ids").get(r));
        int[] mask = ints(b.get("attention_mask").get(r));
        int pads = 0;
        while (mask[pads] == 0) pads++;
        int[] real = java.util.Arrays.copyOfRange(ids, pads, ids.length);
        batch.add(new SeqStep(Tables.slot(1 - r), real, 0)); // slots in descending order: the gathered-KV path
        pos[r] = real.length;
      }
      float[][] last = cm.model().forward(batch, cache, false);
      for (int r = 0; r < 2; r++) {
        assertLogits(last[r], b.get("last_logits").get(r), name + " batch row " + r);
        assertTop(last[r], b.get("last_logits_top10").get(r), name + " batch top10 row " + r);
      }
      JsonNode steps = b.get("greedy").get("steps");
      int[][] newIds = {ints(b.get("greedy").get("new_ids").get(0)), ints(b.get("greedy").get("new_ids").get(1))};
      for (int r = 0; r < 2; r++) assertStep(last[r], steps.get(0).get(r), name + " batch step 0 row " + r);
      for (int s = 1; s < newIds[0].length; s++) {
        List<SeqStep> step = List.of(new SeqStep(Tables.slot(1), new int[] {newIds[0][s - 1]}, pos[0]++),
            new SeqStep(Tables.slot(0), new int[] {newIds[1][s - 1]}, pos[1]++));
        float[][] logits = cm.model().forward(step, cache, false);
        for (int r = 0; r < 2; r++) assertStep(logits[r], steps.get(s).get(r), name + " batch step " + s + " row " + r);
      }
    }
  }

  @org.junit.jupiter.api.Test
  void bfloat16CheckpointGivesFiniteLogitsThatMostlyAgree() {
    JsonNode c = Goldens.json("chatglm2-tiny", "golden.json").get("cases").get(0);
    try (ChatModel cm = ModelFamilies.load(Goldens.dir("chatglm2-tiny-bf16"), Engines.cpu(), Precision.FLOAT32);
         KvCache cache = cm.model().newCache(Tables.blocks())) {
      int[] ids = ints(c.get("input_ids"));
      float[][] all = cm.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cache, true);
      int agree = 0;
      for (int p = 0; p < ids.length; p++) {
        for (float v : all[p]) assertThat(Float.isFinite(v)).isTrue();
        if (argmax(all[p]) == c.get("prefill_argmax").get(p).get(0).asInt()) agree++;
      }
      assertThat(agree).isGreaterThan(ids.length / 2);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"chatglm2-tiny", "internlm2-tiny", "chatglm3-tiny", "qwen2-tiny"})
  void promptPrefilledInChunksBesideAnotherSequenceMatches(String name) {
    JsonNode cases = Goldens.json(name, "golden.json").get("cases");
    int[] a = ints(cases.get(0).get("input_ids"));
    int[] b = ints(cases.get(1).get("input_ids"));
    try (ChatModel cm = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), Precision.FLOAT32);
         KvCache cache = cm.model().newCache(Tables.blocks())) {
      DecoderModel m = cm.model();
      // sequence b decodes its prompt token by token while a is prefilled in two chunks
      m.forward(List.of(new SeqStep(Tables.slot(1), java.util.Arrays.copyOf(b, b.length - 1), 0),
          new SeqStep(Tables.slot(0), java.util.Arrays.copyOf(a, 7), 0)), cache, false);
      float[][] out = m.forward(List.of(new SeqStep(Tables.slot(1), new int[] {b[b.length - 1]}, b.length - 1),
          new SeqStep(Tables.slot(0), java.util.Arrays.copyOfRange(a, 7, a.length), 7)), cache, false);
      assertLogits(out[0], cases.get(1).get("last_logits"), name + " decode beside a chunk");
      assertLogits(out[1], cases.get(0).get("last_logits"), name + " chunked prefill");
    }
  }
}
