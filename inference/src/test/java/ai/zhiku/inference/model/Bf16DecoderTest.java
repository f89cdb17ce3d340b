package ai.zhiku.inference.model;

import static ai.zhiku.inference.model.DecoderGoldenTest.argmax;
import static ai.zhiku.inference.model.DecoderGoldenTest.ints;
import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * --dtype bfloat16: bfloat16 weights, and products that take their activations rounded to
 * bfloat16 (as PyTorch's bfloat16 layers and llama.cpp's BF16 do; sums, norms, softmax and the
 * residual stream stay float32), against float32 compute and the official float32 goldens.
 */
class Bf16DecoderTest {
  /**
   * Rounding every product's activations to bfloat16 (relative error up to 2^-9) moves logits that
   * span about ±6 by up to 0.13 (measured: 0.12 against float32 on the same weights, 0.13 against
   * the goldens, where the weights are rounded too) and by 0.02-0.025 on average over the vocabulary.
   * A wrong layer moves them by 0.1 to 8 everywhere (golden README), so the mean catches what the
   * maximum alone could let through.
   */
  private static final double MAX_DIFF = 0.25;
  private static final double MEAN_DIFF = 0.04;

  /**
   * On a checkpoint stored in bfloat16 both precisions hold the same weights, so only the rounding
   * of the activations differs: every position's logits agree within it, prefill and KV-cache steps alike.
   */
  @Test
  void bfloat16ComputeEqualsFloat32OnABfloat16Checkpoint() {
    JsonNode cases = Goldens.json("chatglm2-tiny", "golden.json").get("cases");
    try (ChatModel bf = ModelFamilies.load(Goldens.dir("chatglm2-tiny-bf16"), Engines.cpu(), Precision.BFLOAT16);
         ChatModel f32 = ModelFamilies.load(Goldens.dir("chatglm2-tiny-bf16"), Engines.cpu(), Precision.FLOAT32);
         KvCache cb = bf.model().newCache(Tables.blocks());
         KvCache cf = f32.model().newCache(Tables.blocks())) {
      assertThat(bf.model().precision()).isEqualTo(Precision.BFLOAT16);
      for (JsonNode c : cases) {
        int[] ids = ints(c.get("input_ids"));
        float[][] a = bf.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cb, true);
        float[][] b = f32.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cf, true);
        for (int p = 0; p < ids.length; p++) assertClose(a[p], b[p], c.get("name").asText() + " position " + p);
        int next = argmax(a[ids.length - 1]);
        for (int s = 0; s < 8; s++) {
          float[] la = bf.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {next}, ids.length + s)), cb, false)[0];
          float[] lb = f32.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {next}, ids.length + s)), cf, false)[0];
          assertClose(la, lb, c.get("name").asText() + " step " + s);
          next = argmax(lb);
        }
      }
    }
  }

  /**
   * A prompt of 48 tokens or more takes the prefill path: layers on Java arrays with batched tiles
   * and attention over many new tokens on the native kernel, or, on the Java kernel (the build's
   * second test run), PyTorch's layers with products on widened float32 slices. Its logits and the
   * decode steps after it still agree with float32's.
   */
  @Test
  void longPromptsTakeThePrefillPathAndStillAgreeWithFloat32() {
    JsonNode cases = Goldens.json("chatglm2-tiny", "golden.json").get("cases");
    java.util.List<Integer> all = new java.util.ArrayList<>();
    for (JsonNode c : cases) for (int id : ints(c.get("input_ids"))) all.add(id);
    int[] ids = all.stream().limit(70).mapToInt(Integer::intValue).toArray();
    assertThat(ids.length).isGreaterThanOrEqualTo(ai.zhiku.inference.model.layers.Bf16Matrix.WIDEN_ROWS);
    try (ChatModel bf = ModelFamilies.load(Goldens.dir("chatglm2-tiny-bf16"), Engines.cpu(), Precision.BFLOAT16);
         ChatModel f32 = ModelFamilies.load(Goldens.dir("chatglm2-tiny-bf16"), Engines.cpu(), Precision.FLOAT32);
         KvCache cb = bf.model().newCache(Tables.blocks());
         KvCache cf = f32.model().newCache(Tables.blocks())) {
      float[][] a = bf.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cb, true);
      float[][] b = f32.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cf, true);
      for (int p = 0; p < ids.length; p++) assertClose(a[p], b[p], "long prompt position " + p);
      int next = argmax(b[ids.length - 1]);
      for (int s = 0; s < 4; s++) {
        float[] la = bf.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {next}, ids.length + s)), cb, false)[0];
        float[] lb = f32.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {next}, ids.length + s)), cf, false)[0];
        assertClose(la, lb, "after the long prompt, step " + s);
        next = argmax(lb);
      }
    }
  }

  /**
   * On the float32 goldens, bfloat16 rounding of weights and activations stays within the bounds
   * above; where the official code's choice is clear, the greedy choice is the same.
   */
  @ParameterizedTest
  @ValueSource(strings = {"chatglm2-tiny", "internlm2-tiny"})
  void bfloat16FollowsTheOfficialCodeWithinItsRounding(String name) {
    JsonNode g = Goldens.json(name, "golden.json");
    try (ChatModel cm = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), Precision.BFLOAT16);
         KvCache cache = cm.model().newCache(Tables.blocks())) {
      for (JsonNode c : g.get("cases")) {
        int[] ids = ints(c.get("input_ids"));
        float[] last = cm.model().forward(List.of(new SeqStep(Tables.slot(0), ids, 0)), cache, false)[0];
        JsonNode golden = c.get("last_logits");
        float[] expected = new float[golden.size()];
        for (int i = 0; i < expected.length; i++) expected[i] = (float) golden.get(i).asDouble();
        assertClose(last, expected, name + "/" + c.get("name").asText());
        JsonNode steps = c.get("greedy").get("steps");
        int[] newIds = ints(c.get("greedy").get("new_ids"));
        int pos = ids.length;
        float[] logits = last;
        for (int s = 0; s < newIds.length; s++) {
          if (s > 0) logits = cm.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {newIds[s - 1]}, pos++)), cache, false)[0];
          if (steps.get(s).get("margin").asDouble() >= 0.3) {
            assertThat(argmax(logits)).as("%s step %d", c.get("name").asText(), s).isEqualTo(newIds[s]);
          }
        }
      }
    }
  }

  /**
   * Sequences of different lengths in other slots, decoded in one step, get the logits each gets
   * alone: the decode attention (native where the CPU has AVX512-BF16) finds each token's own
   * slot and positions. One-row and batched products sum in other orders, and a last-bit change
   * can move an activation's bfloat16 rounding; a wrong slot or position moves logits by 0.1 or more.
   */
  @ParameterizedTest
  @ValueSource(strings = {"chatglm2-tiny-bf16", "internlm2-tiny"})
  void aBatchedDecodeStepGivesEachSequenceItsOwnLogits(String name) {
    JsonNode cases = Goldens.json(name.replace("-bf16", ""), "golden.json").get("cases");
    int[][] prompts = new int[3][];
    for (int i = 0; i < 3; i++) prompts[i] = java.util.Arrays.copyOf(ints(cases.get(i).get("input_ids")), 3 + 4 * i);
    try (ChatModel cm = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), Precision.BFLOAT16);
         KvCache shared = cm.model().newCache(Tables.blocks());
         KvCache alone = cm.model().newCache(Tables.blocks())) {
      int[] slots = {3, 0, 2}; // not in order, one slot left empty
      int[] next = new int[3];
      for (int i = 0; i < 3; i++) {
        float[] l = cm.model().forward(List.of(new SeqStep(Tables.slot(slots[i]), prompts[i], 0)), shared, false)[0];
        next[i] = argmax(l);
      }
      for (int s = 0; s < 4; s++) {
        List<SeqStep> batch = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) batch.add(new SeqStep(Tables.slot(slots[i]), new int[] {next[i]}, prompts[i].length));
        float[][] together = cm.model().forward(batch, shared, false);
        for (int i = 0; i < 3; i++) {
          // the same sequence alone: its prompt and the tokens fed so far, then this step's token
          cm.model().forward(List.of(new SeqStep(Tables.slot(0), prompts[i], 0)), alone, false);
          float[] own = cm.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {next[i]}, prompts[i].length)), alone, false)[0];
          double max = 0;
          for (int v = 0; v < own.length; v++) max = Math.max(max, Math.abs(own[v] - together[i][v]));
          assertThat(max).as("%s sequence %d step %d", name, i, s).isLessThan(0.02);
        }
        for (int i = 0; i < 3; i++) {
          prompts[i] = java.util.Arrays.copyOf(prompts[i], prompts[i].length + 1);
          prompts[i][prompts[i].length - 1] = next[i];
          next[i] = argmax(together[i]);
        }
      }
    }
  }

  /**
   * A bfloat16 decode step runs PyTorch on one thread, and PyTorch makes that the default of threads
   * started later: a float32 model on a fresh thread must still compute with the configured threads.
   */
  @Test
  void aBfloat16DecodeStepLeavesOtherModelsTheirThreads() throws Exception {
    int configured = Integer.parseInt(System.getProperty("ai.djl.pytorch.num_threads",
        Integer.toString(Runtime.getRuntime().availableProcessors())));
    org.junit.jupiter.api.Assumptions.assumeTrue(configured > 1, "needs more than one core");
    try (ChatModel bf = ModelFamilies.load(Goldens.dir("chatglm2-tiny-bf16"), Engines.cpu(), Precision.BFLOAT16);
         ChatModel f32 = ModelFamilies.load(Goldens.dir("chatglm2-tiny"), Engines.cpu(), Precision.FLOAT32);
         KvCache cb = bf.model().newCache(Tables.blocks());
         KvCache cf = f32.model().newCache(Tables.blocks())) {
      int[] seen = new int[2];
      Thread a = new Thread(() -> {
        bf.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {64790}, 0)), cb, false);
        seen[0] = ai.djl.pytorch.jni.JniUtils.getNumThreads();
      });
      a.start();
      a.join();
      Thread b = new Thread(() -> {
        f32.model().forward(List.of(new SeqStep(Tables.slot(0), new int[] {64790}, 0)), cf, false);
        seen[1] = ai.djl.pytorch.jni.JniUtils.getNumThreads();
      });
      b.start();
      b.join();
      assertThat(seen[0]).as("bfloat16 decode thread").isEqualTo(1);
      assertThat(seen[1]).as("float32 model on a later thread").isEqualTo(configured);
    }
  }

  private static void assertClose(float[] a, float[] b, String what) {
    assertThat(a).hasSameSizeAs(b);
    double max = 0;
    double sum = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
      sum += Math.abs(a[i] - b[i]);
    }
    assertThat(max).as("max abs diff of %s", what).isLessThanOrEqualTo(MAX_DIFF);
    assertThat(sum / a.length).as("mean abs diff of %s", what).isLessThanOrEqualTo(MEAN_DIFF);
  }
}
