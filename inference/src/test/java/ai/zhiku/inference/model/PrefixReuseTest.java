package ai.zhiku.inference.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A prompt whose first blocks were computed by another sequence (a prefix-cache hit) gives the same
 * logits as the same prompt computed cold in blocks of its own, on every attention path: PyTorch
 * (float32) and, in bfloat16, the native kernel where the CPU has one (else PyTorch's attention
 * again).
 */
class PrefixReuseTest {
  @ParameterizedTest
  @CsvSource({"internlm2-tiny, FLOAT32", "chatglm2-tiny, FLOAT32", "internlm2-tiny, BFLOAT16", "chatglm2-tiny-bf16, BFLOAT16"})
  void aSharedPrefixGivesTheLogitsOfAColdPrefill(String name, Precision precision) {
    Random rnd = new Random(7);
    int[] a = new int[40];
    int[] b = new int[45];
    for (int i = 0; i < a.length; i++) a[i] = 100 + rnd.nextInt(20_000);
    System.arraycopy(a, 0, b, 0, 32); // two full blocks in common
    for (int i = 32; i < b.length; i++) b[i] = 100 + rnd.nextInt(20_000);
    try (ChatModel cm = ModelFamilies.load(Goldens.dir(name), Engines.cpu(), precision);
         KvCache cache = cm.model().newCache(64)) {
      DecoderModel m = cm.model();
      m.forward(List.of(new SeqStep(new int[] {10, 3, 7}, a, 0)), cache, false);
      float[] warm = m.forward(List.of(new SeqStep(new int[] {10, 3, 20}, java.util.Arrays.copyOfRange(b, 32, b.length), 32)),
          cache, false)[0];
      float[] cold = m.forward(List.of(new SeqStep(new int[] {30, 41, 33}, b, 0)), cache, false)[0];
      double max = 0;
      for (int v = 0; v < cold.length; v++) max = Math.max(max, Math.abs(cold[v] - warm[v]));
      assertThat(max).as("%s %s", name, precision).isLessThan(precision == Precision.FLOAT32 ? 1e-5 : 1e-3);
    }
  }
}
