package ai.zhiku.inference.bench;

import ai.djl.Device;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.DecoderModel;
import ai.zhiku.inference.model.DecoderModel.SeqStep;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Checks a tiny golden checkpoint (a directory of ../shared/golden with its golden.json) on any
 * device and precision: for every case, the last prompt position's logits and each step of the
 * official greedy continuation fed through the paged KV cache, against the official code's
 * float32 values. This is how a GPU host checks the CUDA path, which the test suite (CPU only)
 * cannot.
 *
 * <pre>
 * GoldenCheck --model-path DIR [--device cpu|cuda|cuda:N] [--dtype float32|float16|bfloat16] [--tolerance 0.05]
 * </pre>
 * Prints the largest logit difference per case and the steps whose argmax differs where the
 * golden's top-1 margin exceeds the tolerance; exits 1 when any difference exceeds the tolerance.
 */
public final class GoldenCheck {
  private GoldenCheck() {}

  public static void main(String[] args) throws IOException {
    Path dir = null;
    String deviceName = "cpu";
    String dtype = "float32";
    double tol = -1;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--model-path" -> dir = Path.of(args[i + 1]);
        case "--device" -> deviceName = args[i + 1];
        case "--dtype" -> dtype = args[i + 1];
        case "--tolerance" -> tol = Double.parseDouble(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (dir == null) throw new IllegalArgumentException("--model-path DIR (a golden checkpoint with golden.json) is required");
    Device device = Engines.device(deviceName);
    Precision precision = ModelFamilies.precision(dtype, device);
    // float32 matches the official code to accumulation order; half precisions round every activation
    if (tol < 0) tol = precision == Precision.FLOAT32 ? 1e-3 : 0.25;
    JsonNode golden = new ObjectMapper().readTree(dir.resolve("golden.json").toFile());
    int failures = check(dir, device, precision, golden, tol);
    System.out.printf("%s on %s in %s: %s%n", dir.getFileName(), device, precision.flag(),
        failures == 0 ? "every case within " + tol : failures + " values beyond " + tol);
    System.exit(failures == 0 ? 0 : 1);
  }

  /** Returns the number of logits and greedy choices that miss the golden by more than {@code tol}. */
  static int check(Path dir, Device device, Precision precision, JsonNode golden, double tol) {
    int failures = 0;
    try (ChatModel cm = ModelFamilies.load(dir, device, precision);
         KvCache cache = cm.model().newCache(64)) {
      DecoderModel m = cm.model();
      int[] table = new int[64];
      for (int i = 0; i < table.length; i++) table[i] = (i * 37) % 64; // scattered blocks
      for (JsonNode c : golden.get("cases")) {
        int[] ids = ints(c.get("input_ids"));
        float[] last = m.forward(List.of(new SeqStep(table, ids, 0)), cache, false)[0];
        double worst = maxDiff(last, c.get("last_logits"));
        failures += worst > tol ? 1 : 0;
        JsonNode steps = c.get("greedy").get("steps");
        int[] newIds = ints(c.get("greedy").get("new_ids"));
        int pos = ids.length;
        int argmaxMisses = 0;
        float[] logits = last;
        for (int s = 0; s < newIds.length; s++) {
          if (s > 0) logits = m.forward(List.of(new SeqStep(table, new int[] {newIds[s - 1]}, pos++)), cache, false)[0];
          JsonNode step = steps.get(s);
          double d = Math.abs(logits[step.get("id").asInt()] - step.get("logit").asDouble());
          worst = Math.max(worst, d);
          failures += d > tol ? 1 : 0;
          if (step.get("margin").asDouble() > tol && argmax(logits) != step.get("id").asInt()) {
            argmaxMisses++;
            failures++;
          }
        }
        System.out.printf("  %-28s max |logit diff| %.5f, greedy steps %d, argmax misses %d%n", c.get("name").asText(), worst,
            newIds.length, argmaxMisses);
      }
    }
    return failures;
  }

  private static double maxDiff(float[] ours, JsonNode golden) {
    double max = 0;
    for (int i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i] - golden.get(i).asDouble()));
    return max;
  }

  private static int[] ints(JsonNode a) {
    int[] r = new int[a.size()];
    for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
    return r;
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return best;
  }
}
