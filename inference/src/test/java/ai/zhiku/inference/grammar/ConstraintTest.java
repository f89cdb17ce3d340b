package ai.zhiku.inference.grammar;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.zhiku.common.ZhikuException;
import ai.zhiku.common.engine.ChatTool;
import ai.zhiku.common.engine.ResponseFormat;
import ai.zhiku.inference.Goldens;
import ai.zhiku.inference.engine.Engines;
import ai.zhiku.inference.model.ChatModel;
import ai.zhiku.inference.model.ModelFamilies;
import ai.zhiku.inference.model.Precision;
import ai.zhiku.inference.tokenizer.Tokenizer;
import ai.zhiku.inference.tools.ToolCallParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Constrained decoding over real vocabularies (the tiny checkpoints' tokenizers) driven by random
 * logits: whatever the "model" prefers, the decoded text must parse and validate against the schema
 * (checked by a maintained JSON Schema validator, not by our code).
 */
class ConstraintTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static ChatModel internlm;
  private static ChatModel qwen;

  static final String SCHEMA = """
      {"type":"object","properties":{
        "city":{"type":"string","enum":["北京","上海","Zürich"]},
        "days":{"type":"integer"},
        "metric":{"type":"boolean"},
        "score":{"type":"number"},
        "tags":{"type":"array","items":{"type":"string","maxLength":4},"minItems":1,"maxItems":3},
        "note":{"anyOf":[{"type":"null"},{"const":"ok"}]},
        "where":{"$ref":"#/$defs/point"},
        "extra":{"type":"string","maxLength":3}},
       "required":["city","days","metric","tags","where"],
       "additionalProperties":false,
       "$defs":{"point":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},"required":["lat","lon"]}}}
      """;

  @BeforeAll
  static void load() {
    internlm = ModelFamilies.load(Goldens.dir("internlm2-tiny"), Engines.cpu(), Precision.FLOAT32);
    qwen = ModelFamilies.load(Goldens.dir("qwen2-tiny"), Engines.cpu(), Precision.FLOAT32);
  }

  @AfterAll
  static void close() {
    internlm.close();
    qwen.close();
  }

  /** Generates with random logits under the constraint; returns the ids (without the stop id). */
  static List<Integer> generate(Constraint c, ChatModel m, long seed, int maxTokens) {
    int vocab = m.model().config().vocabSize();
    SplittableRandom r = new SplittableRandom(seed);
    List<Integer> out = new ArrayList<>();
    float[] logits = new float[vocab];
    for (int step = 0; step < maxTokens; step++) {
      for (int i = 0; i < vocab; i++) logits[i] = (float) r.nextGaussian() * 3f;
      c.apply(logits, 0, vocab);
      int best = 0;
      for (int i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
      assertThat(logits[best]).as("some token is allowed").isGreaterThan(Float.NEGATIVE_INFINITY);
      c.accept(best);
      for (int s : m.stopIds()) if (s == best) return out;
      out.add(best);
    }
    throw new AssertionError("no stop within " + maxTokens + " tokens: " + m.tokenizer().decode(ids(out), false));
  }

  static int[] ids(List<Integer> l) { return l.stream().mapToInt(Integer::intValue).toArray(); }

  static void assertValid(String schema, String text) throws Exception {
    JsonNode value = JSON.readTree(text);
    JsonSchema s = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(JSON.readTree(schema));
    assertThat(s.validate(value)).as(text).isEmpty();
  }

  @Test
  void randomLogitsStillGiveValidJsonForTheSchema() throws Exception {
    for (ChatModel m : List.of(internlm, qwen)) {
      Grammars g = new Grammars(m.tokenizer(), m.stopIds());
      for (long seed = 1; seed <= 6; seed++) {
        Constraint c = g.forFormat(ResponseFormat.jsonSchema(SCHEMA));
        String text = m.tokenizer().decode(ids(generate(c, m, seed, 400)), true);
        assertValid(SCHEMA, text);
        assertThat(c.complete()).isTrue();
        if (seed == 1) System.out.println(m.family() + " under the schema: " + text + " (mask time " + c.maskNanos() / 1_000_000 + " ms)");
      }
    }
  }

  @Test
  void jsonObjectGivesAnObject() throws Exception {
    Grammars g = new Grammars(internlm.tokenizer(), internlm.stopIds());
    int stopped = 0;
    for (long seed = 1; seed <= 8; seed++) {
      Constraint c = g.forFormat(ResponseFormat.JSON_OBJECT);
      List<Integer> ids;
      try {
        ids = generate(c, internlm, seed, 60);
      } catch (AssertionError e) {
        continue; // free-form strings may run past the budget; only a stopped reply is complete
      }
      stopped++;
      assertThat(JSON.readTree(internlm.tokenizer().decode(ids(ids), true)).isObject()).isTrue();
    }
    assertThat(stopped).isPositive();
  }

  @Test
  void aForcedToolCallParsesBackInTheFamilysFormat() throws Exception {
    String params = """
        {"type":"object","properties":{"unit":{"enum":["c","f"]},"days":{"type":"integer"}},"required":["unit","days"]}""";
    List<ChatTool> tools = List.of(
        new ChatTool("get_weather", "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":" + params + "}}"),
        new ChatTool("noop", "{\"type\":\"function\",\"function\":{\"name\":\"noop\"}}"));
    record Family(ChatModel model, ai.zhiku.inference.tools.ToolCallFormat format) {}
    for (Family f : List.of(new Family(internlm, internlm.template().toolParser(tools).callFormat()), new Family(qwen, qwen.template().toolParser(tools).callFormat()))) {
      Grammars g = new Grammars(f.model().tokenizer(), f.model().stopIds());
      ToolCallParser parser = f.model().template().toolParser(tools);
      for (long seed = 1; seed <= 4; seed++) {
        Constraint c = g.forToolCall(f.format(), tools, seed % 2 == 0 ? null : "get_weather");
        String raw = f.model().tokenizer().decode(ids(generate(c, f.model(), seed, 200)), false);
        ToolCallParser.Parsed p = parser.parse(raw);
        if (seed <= 2) System.out.println(f.model().family() + " forced call: " + raw);
        assertThat(p.calls()).as(raw).hasSize(1);
        if (seed % 2 == 1) {
          assertThat(p.calls().get(0).name()).isEqualTo("get_weather");
        }
        if (p.calls().get(0).name().equals("get_weather")) assertValid(params, p.calls().get(0).arguments());
        else assertThat(p.calls().get(0).arguments()).isEqualTo("{}");
      }
    }
  }

  @Test
  void unsupportedKeywordsAreRefusedByName() {
    Grammars g = new Grammars(internlm.tokenizer(), internlm.stopIds());
    assertThatThrownBy(() -> g.forFormat(ResponseFormat.jsonSchema("{\"type\":\"string\",\"pattern\":\"^a\"}")))
        .isInstanceOf(ZhikuException.class).hasMessageContaining("'pattern'");
    assertThatThrownBy(() -> g.forFormat(ResponseFormat.jsonSchema("{\"type\":\"object\",\"required\":[\"x\"]}")))
        .isInstanceOf(ZhikuException.class).hasMessageContaining("[x]");
    assertThatThrownBy(() -> g.forFormat(ResponseFormat.jsonSchema("{\"$ref\":\"#/$defs/nope\"}")))
        .isInstanceOf(ZhikuException.class).hasMessageContaining("points at nothing");
    assertThatThrownBy(() -> g.forFormat(ResponseFormat.jsonSchema("{not json")))
        .isInstanceOf(ZhikuException.class).hasMessageContaining("not valid JSON");
  }

  @Test
  void masksAreCachedPerStateAndSharedBetweenSequences() {
    Grammars g = new Grammars(internlm.tokenizer(), internlm.stopIds());
    Constraint a = g.forFormat(ResponseFormat.jsonSchema(SCHEMA));
    generate(a, internlm, 7, 400);
    Constraint b = g.forFormat(ResponseFormat.jsonSchema(SCHEMA));
    Grammar shared = b.grammar();
    long before = shared.computedMasks();
    generate(b, internlm, 7, 400); // the same choices: every state's mask is in the cache
    assertThat(shared.computedMasks()).isEqualTo(before);
  }
}
