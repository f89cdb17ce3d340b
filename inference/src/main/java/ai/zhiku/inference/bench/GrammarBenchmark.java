package ai.zhiku.inference.bench;

import ai.zhiku.common.engine.FinishReason;
import ai.zhiku.common.engine.GenerationRequest;
import ai.zhiku.common.engine.PromptInput;
import ai.zhiku.common.engine.ResponseFormat;
import ai.zhiku.common.engine.SamplingParams;
import ai.zhiku.common.engine.TokenSink;
import ai.zhiku.common.engine.ToolChoice;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.engine.LocalChatEngine;
import ai.zhiku.inference.grammar.Constraint;
import ai.zhiku.inference.grammar.Grammars;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.KvCache;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What constrained decoding costs (not a test).
 *
 * <pre>
 * GrammarBenchmark --model-path DIR [--dtype float32|bfloat16] [--seqs 16] [--tokens 64] [--threads 2]
 * </pre>
 * First the mask alone: sequences walk a 12-property schema over the model's vocabulary, drawing from
 * random logits, and the mask time per step is reported for the first sequence (every state new to the
 * cache) and for the ones after it (the cache the schema's sequences share). Then the engine: a batch of
 * {@code --seqs} unconstrained sequences, and a batch with half of them held to that schema, each
 * sequence's decode tokens/s from its first token to its last. DIR is any chat checkpoint with its
 * tokenizer (for a big shape: {@code bench engine --write-checkpoint DIR}, then copy a tokenizer of that
 * vocabulary into it).
 */
public final class GrammarBenchmark {
  /** Twelve properties of every kind a schema for extraction or a tool's parameters has. */
  static final String SCHEMA = """
      {"type":"object","properties":{
       "city":{"enum":["北京","上海","广州","深圳"]},"days":{"type":"integer"},"metric":{"type":"boolean"},
       "unit":{"enum":["c","f"]},"lat":{"type":"number"},"lon":{"type":"number"},"name":{"type":"string","maxLength":12},
       "tags":{"type":"array","items":{"enum":["rain","sun","wind"]},"maxItems":3},"priority":{"type":"integer"},
       "urgent":{"type":"boolean"},"note":{"type":["string","null"],"maxLength":8},"level":{"enum":[1,2,3]}},
       "required":["city","days","metric","unit","lat","lon","name","tags","priority","urgent","note","level"],
       "additionalProperties":false}""";

  private GrammarBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path dir = null;
    String dtype = "float32";
    int seqs = 16;
    int tokens = 64;
    int threads = 2;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String v = args[i + 1];
      switch (args[i]) {
        case "--model-path" -> dir = Path.of(v);
        case "--dtype" -> dtype = v;
        case "--seqs" -> seqs = Integer.parseInt(v);
        case "--tokens" -> tokens = Integer.parseInt(v);
        case "--threads" -> threads = Integer.parseInt(v);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (dir == null) throw new IllegalArgumentException("--model-path is required");
    Engines.configureThreads(threads, 1);
    ChatModel model = ModelFamilies.load(dir, Engines.cpu(), ModelFamilies.precision(dtype, Engines.cpu()));
    maskAlone(model);
    long kv = model.model().kvBytesPerToken(false) * KvCache.DEFAULT_BLOCK_SIZE * (long) seqs * ((tokens + 64) / 16 + 2);
    try (LocalChatEngine engine = new LocalChatEngine(model, model.template(), seqs, kv)) {
      run(engine, seqs, 0, tokens); // warm-up
      for (int rep = 0; rep < 2; rep++) {
        report("unconstrained batch", run(engine, seqs, 0, tokens));
        report("mixed batch", run(engine, seqs, seqs / 2, tokens));
      }
    }
  }

  private static void maskAlone(ChatModel model) {
    Grammars grammars = new Grammars(model.tokenizer(), model.stopIds());
    int vocab = model.model().config().vocabSize();
    float[] logits = new float[vocab];
    for (int s = 0; s < 6; s++) {
      long t0 = System.nanoTime();
      Constraint c = grammars.forFormat(ResponseFormat.jsonSchema(SCHEMA));
      long compile = System.nanoTime() - t0;
      SplittableRandom rnd = new SplittableRandom(s);
      int steps = 0;
      while (!c.complete() && steps < 2000) {
        for (int i = 0; i < vocab; i++) logits[i] = (float) rnd.nextGaussian();
        c.apply(logits, 0, vocab);
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
        c.accept(best);
        steps++;
      }
      System.out.printf("mask, sequence %d: %d steps, %.3f ms per step (%s)%s%n", s, steps, c.maskNanos() / 1e6 / steps,
          s == 0 ? "states new to the cache" : "cache shared with the sequences before",
          s == 0 ? String.format(", trie and schema built in %.0f ms", compile / 1e6) : "");
    }
  }

  record Result(double freeTps, int free, double constrainedTps, int constrained, double seconds, int validJson) {}

  private static final class TimedSink implements TokenSink {
    final StringBuilder text = new StringBuilder();
    final CountDownLatch done = new CountDownLatch(1);
    volatile long first;
    volatile long last;
    volatile int completion;
    volatile FinishReason reason;

    @Override
    public void onText(String t, int n) {
      long now = System.nanoTime();
      if (first == 0) first = now;
      last = now;
      text.append(t);
    }

    @Override
    public void onFinish(FinishReason r, int prompt, int completionTokens) {
      reason = r;
      completion = completionTokens;
      done.countDown();
    }

    @Override
    public void onError(Throwable error) {
      error.printStackTrace();
      done.countDown();
    }

    double tokensPerSecond() { return last > first ? (completion - 1) / ((last - first) / 1e9) : 0; }
  }

  private static Result run(LocalChatEngine engine, int seqs, int constrained, int tokens) throws Exception {
    List<TimedSink> sinks = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < seqs; i++) {
      boolean json = i < constrained;
      TimedSink sink = new TimedSink();
      sinks.add(sink);
      engine.submit(new GenerationRequest("bench-" + i, PromptInput.ofPrompt("JSON 第" + i + "条:"),
          new SamplingParams(1f, null, null, tokens, List.of(), null, null, null, (long) i), false, ToolChoice.AUTO,
          json ? ResponseFormat.jsonSchema(SCHEMA) : ResponseFormat.TEXT, -1, Map.of()), sink);
    }
    for (TimedSink s : sinks) if (!s.done.await(30, TimeUnit.MINUTES)) throw new IllegalStateException("a sequence did not finish");
    double seconds = (System.nanoTime() - t0) / 1e9;
    double freeSum = 0;
    double jsonSum = 0;
    int valid = 0;
    var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
    for (int i = 0; i < seqs; i++) {
      TimedSink s = sinks.get(i);
      if (i < constrained) {
        jsonSum += s.tokensPerSecond();
        if (s.reason == FinishReason.STOP) {
          try {
            if (mapper.readTree(s.text.toString()).size() == 12) valid++;
          } catch (java.io.IOException e) {
            // counted as not valid
          }
        }
      } else {
        freeSum += s.tokensPerSecond();
      }
    }
    return new Result(freeSum / Math.max(1, seqs - constrained), seqs - constrained, constrained == 0 ? 0 : jsonSum / constrained,
        constrained, seconds, valid);
  }

  private static void report(String what, Result r) {
    System.out.printf("%s: %d unconstrained at %.2f tokens/s each%s; batch done in %.1f s%n", what, r.free(), r.freeTps(),
        r.constrained() == 0 ? "" : String.format(", %d constrained at %.2f tokens/s each (%d finished with all 12 keys)",
            r.constrained(), r.constrainedTps(), r.validJson()), r.seconds());
  }
}
