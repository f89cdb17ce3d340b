package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.zhiku.common.Addresses;
import ai.zhiku.common.ClusterToken;
import ai.zhiku.protocol.ControllerGrpcClient;
import ai.zhiku.protocol.CountTokensRequest;
import ai.zhiku.protocol.ListModelsRequest;
import ai.zhiku.protocol.WorkerGrpcClient;
import ai.zhiku.worker.HostedModel;
import ai.zhiku.worker.WorkerServer;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.client.GrpcClient;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A cluster started with --cluster-token: calls without the token, or with another, are refused; the API works end to end. */
class ClusterTokenTest {
  static final String TOKEN = "test-cluster-secret";
  static TestCluster cluster;
  static WorkerServer worker;
  static GrpcClient plain;

  @BeforeAll
  static void start() {
    cluster = new TestCluster("shortest_queue", 5000, TOKEN);
    worker = cluster.addWorker(new HostedModel.Chat(List.of("tiny-chat"), new ScriptedChatEngine("tiny", 256, 1)), 4, 4);
    cluster.startApi(List.of(), 1 << 20);
    plain = GrpcClient.client(cluster.vertx);
  }

  @AfterAll
  static void stop() {
    TestCluster.await(plain.close());
    cluster.close();
  }

  static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null) {
      c = c.getCause();
    }
    return String.valueOf(c);
  }

  @Test
  void theControllerRefusesACallWithoutTheTokenOrWithAnother() {
    var address = Addresses.parse("controller-address", cluster.controllerAddress());
    for (GrpcClient client : List.of(plain, ClusterToken.stamping("wrong", plain))) {
      assertThatThrownBy(() -> TestCluster.await(ControllerGrpcClient.create(client, address).listModels(ListModelsRequest.getDefaultInstance())))
          .satisfies(e -> assertThat(rootMessage(e)).contains("UNAUTHENTICATED"));
    }
    var reply = TestCluster.await(ControllerGrpcClient.create(ClusterToken.stamping(TOKEN, plain), address)
        .listModels(ListModelsRequest.getDefaultInstance()));
    assertThat(reply.toString()).contains("tiny-chat");
  }

  @Test
  void theWorkerRefusesACallWithoutTheTokenOrWithAnother() {
    var address = Addresses.parse("worker-address", "http://" + worker.address());
    CountTokensRequest req = CountTokensRequest.newBuilder().setModel("tiny-chat").setPrompt("hello").build();
    for (GrpcClient client : List.of(plain, ClusterToken.stamping("wrong", plain))) {
      assertThatThrownBy(() -> TestCluster.await(WorkerGrpcClient.create(client, address).countTokens(req)))
          .satisfies(e -> assertThat(rootMessage(e)).contains("UNAUTHENTICATED"));
    }
    assertThat(TestCluster.await(WorkerGrpcClient.create(ClusterToken.stamping(TOKEN, plain), address).countTokens(req)).getContextLength())
        .isEqualTo(256);
  }

  @Test
  void aChatIsServedEndToEnd() throws Exception {
    HttpResponse<String> r = cluster.post("/v1/chat/completions",
        "{\"model\":\"tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getJsonArray("choices").getJsonObject(0).getJsonObject("message").getString("content")).isNotNull();
  }
}
