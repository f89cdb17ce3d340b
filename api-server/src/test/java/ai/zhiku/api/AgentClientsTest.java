package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.inference.ChatEngineConfig;
import ai.zhiku.inference.ChatEngineFactory;
import ai.zhiku.worker.HostedModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionAssistantMessageParam;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The official OpenAI Java client and LangChain4j driving tools and JSON-schema output on the tiny
 * random-weight checkpoints behind real gRPC: their typed requests and responses must round-trip,
 * and only constrained decoding makes a random model's call or JSON validate.
 */
class AgentClientsTest {
  static TestCluster cluster;
  static OpenAIClient client;
  static final Path GOLDEN = Path.of(System.getProperty("zhiku.golden.dir"));
  static final List<String> TOOL_MODELS = List.of("internlm2-tiny", "qwen2-tiny");
  static final ObjectMapper JSON = new ObjectMapper();
  static final String WEATHER_SCHEMA = """
      {"type":"object","properties":{"city":{"type":"string","enum":["北京","上海"]},"days":{"type":"integer"}},
       "required":["city","days"],"additionalProperties":false}""";

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000);
    for (String model : TOOL_MODELS) {
      cluster.addWorker(new HostedModel.Chat(List.of(model),
          ChatEngineFactory.open(new ChatEngineConfig(GOLDEN.resolve(model), "cpu", "float32", null, 8))), 8, 8);
    }
    cluster.startApi(List.of("sk-agent"), 1 << 20);
    client = OpenAIOkHttpClient.builder().baseUrl(cluster.base() + "/v1").apiKey("sk-agent").maxRetries(0).build();
  }

  @AfterAll
  static void stop() {
    client.close();
    cluster.close();
  }

  static void assertValid(String schema, String json) throws Exception {
    var validator = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema);
    assertThat(validator.validate(JSON.readTree(json))).as(json).isEmpty();
  }

  static FunctionDefinition weatherFunction() throws Exception {
    Map<String, JsonValue> params = new HashMap<>();
    JSON.readTree(WEATHER_SCHEMA).fields().forEachRemaining(e -> params.put(e.getKey(), JsonValue.fromJsonNode(e.getValue())));
    return FunctionDefinition.builder().name("get_weather").description("天气预报")
        .parameters(FunctionParameters.builder().additionalProperties(params).build()).build();
  }

  static ChatCompletionCreateParams.Builder weatherRequest(String model) throws Exception {
    return ChatCompletionCreateParams.builder().model(model).addUserMessage("北京明天天气怎么样?").maxCompletionTokens(120)
        .addFunctionTool(weatherFunction()).toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED);
  }

  @Test
  void openAiClientRequiredToolCallThenTheToolResult() throws Exception {
    for (String model : TOOL_MODELS) {
      ChatCompletion c = client.chat().completions().create(weatherRequest(model).build());
      var choice = c.choices().getFirst();
      assertThat(choice.finishReason().asString()).as(model).isEqualTo("tool_calls");
      assertThat(choice.message().content()).isEmpty();
      ChatCompletionMessageFunctionToolCall call = choice.message().toolCalls().orElseThrow().getFirst().asFunction();
      assertThat(call.id()).startsWith("call_");
      assertThat(call.function().name()).isEqualTo("get_weather");
      assertValid(WEATHER_SCHEMA, call.function().arguments());

      // the agent's second turn: its own call and the tool's answer go back as history
      ChatCompletion answer = client.chat().completions().create(ChatCompletionCreateParams.builder().model(model)
          .addUserMessage("北京明天天气怎么样?").addFunctionTool(weatherFunction()).maxCompletionTokens(8).temperature(0.0)
          .addMessage(ChatCompletionAssistantMessageParam.builder().addToolCall(call).build())
          .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id()).content("{\"temperature\":21}").build())
          .build());
      assertThat(answer.choices().getFirst().finishReason().asString()).isIn("stop", "length", "tool_calls");
      assertThat(answer.usage().orElseThrow().promptTokens()).isGreaterThan(c.usage().orElseThrow().promptTokens());
    }
  }

  @Test
  void openAiClientStreamsTheCallInPieces() throws Exception {
    for (String model : TOOL_MODELS) {
      StringBuilder args = new StringBuilder();
      String[] idAndName = new String[2];
      String[] finish = new String[1];
      int[] pieces = {0};
      try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(weatherRequest(model).build())) {
        stream.stream().forEach(chunk -> chunk.choices().forEach(choice -> {
          choice.delta().toolCalls().ifPresent(calls -> calls.forEach(d -> {
            assertThat(d.index()).isZero();
            d.id().ifPresent(id -> idAndName[0] = id);
            d.function().flatMap(ChatCompletionChunk.Choice.Delta.ToolCall.Function::name).ifPresent(n -> idAndName[1] = n);
            d.function().flatMap(ChatCompletionChunk.Choice.Delta.ToolCall.Function::arguments).ifPresent(a -> {
              args.append(a);
              pieces[0]++;
            });
          }));
          choice.delta().content().ifPresent(text -> assertThat(text).as("no part of a call in content").isEmpty());
          choice.finishReason().ifPresent(f -> finish[0] = f.asString());
        }));
      }
      assertThat(finish[0]).as(model).isEqualTo("tool_calls");
      assertThat(idAndName[0]).startsWith("call_");
      assertThat(idAndName[1]).isEqualTo("get_weather");
      assertValid(WEATHER_SCHEMA, args.toString());
      assertThat(pieces[0]).isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  void openAiClientJsonSchemaResponseFormat() throws Exception {
    Map<String, JsonValue> schema = new HashMap<>();
    JSON.readTree(WEATHER_SCHEMA).fields().forEachRemaining(e -> schema.put(e.getKey(), JsonValue.fromJsonNode(e.getValue())));
    for (String model : TOOL_MODELS) {
      ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(model)
          .addUserMessage("用 JSON 回答").maxCompletionTokens(120).seed(7L).temperature(1.0)
          .responseFormat(ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder().name("weather")
              .strict(true).schema(ResponseFormatJsonSchema.JsonSchema.Schema.builder().additionalProperties(schema).build()).build()).build())
          .build());
      assertThat(c.choices().getFirst().finishReason().asString()).as(model).isEqualTo("stop");
      assertValid(WEATHER_SCHEMA, c.choices().getFirst().message().content().orElseThrow());
    }
  }

  static OpenAiChatModel langChain(String model) {
    return OpenAiChatModel.builder().baseUrl(cluster.base() + "/v1").apiKey("sk-agent").modelName(model).maxTokens(120).build();
  }

  @Test
  void langChain4jToolSpecificationWithRequiredChoice() throws Exception {
    ToolSpecification weather = ToolSpecification.builder().name("get_weather").description("天气预报")
        .parameters(JsonObjectSchema.builder().addEnumProperty("city", List.of("北京", "上海")).addIntegerProperty("days", "几天")
            .required("city", "days").additionalProperties(false).build())
        .build();
    for (String model : TOOL_MODELS) {
      ChatResponse r = langChain(model).chat(ChatRequest.builder().messages(UserMessage.from("北京明天天气怎么样?"))
          .toolSpecifications(weather).toolChoice(ToolChoice.REQUIRED).build());
      assertThat(r.aiMessage().hasToolExecutionRequests()).as(model).isTrue();
      ToolExecutionRequest call = r.aiMessage().toolExecutionRequests().getFirst();
      assertThat(call.name()).isEqualTo("get_weather");
      JsonNode args = JSON.readTree(call.arguments());
      assertThat(args.get("city").asText()).isIn("北京", "上海");
      assertThat(args.get("days").canConvertToExactIntegral()).isTrue();
      assertThat(r.finishReason().name()).isEqualTo("TOOL_EXECUTION");
    }
  }

  @Test
  void langChain4jJsonSchemaResponseFormat() throws Exception {
    JsonSchema schema = JsonSchema.builder().name("weather").rootElement(JsonObjectSchema.builder()
        .addEnumProperty("city", List.of("北京", "上海")).addIntegerProperty("days").required("city", "days")
        .additionalProperties(false).build()).build();
    for (String model : TOOL_MODELS) {
      ChatResponse r = langChain(model).chat(ChatRequest.builder().messages(UserMessage.from("用 JSON 回答"))
          .responseFormat(ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(schema).build()).build());
      assertValid(WEATHER_SCHEMA, r.aiMessage().text());
    }
  }
}
