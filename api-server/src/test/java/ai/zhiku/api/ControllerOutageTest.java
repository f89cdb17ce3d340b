package ai.zhiku.api;

import static org.assertj.core.api.Assertions.assertThat;

import ai.zhiku.worker.HostedModel;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The controller is off the request path: the api-server dispatches from its own copy of the
 * worker table, so chat keeps working while the controller is down, and a new controller on the
 * same port is filled again by the workers' heartbeats within one heartbeat interval (200 ms
 * here) while the api-server keeps serving throughout.
 */
class ControllerOutageTest {
  private static final String CHAT = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2}";
  private static final String STREAM = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":3}";

  @Test
  void chatKeepsWorkingWhileTheControllerIsDownAndTheRegistryHealsWithinOneHeartbeat() throws Exception {
    try (TestCluster c = new TestCluster("shortest_queue", 2000)) {
      ScriptedChatEngine a = new ScriptedChatEngine("a", 256, 1);
      ScriptedChatEngine b = new ScriptedChatEngine("b", 256, 1);
      c.addWorker(new HostedModel.Chat(List.of("m"), a), 4, 4);
      c.addWorker(new HostedModel.Chat(List.of("m"), b), 4, 4);
      c.startApi(List.of(), 1 << 20);
      c.syncTable();
      assertThat(c.post("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);

      c.stopController();
      long down = System.nanoTime();
      // well past the controller's expiry (2 s) and many polls: nothing expires in the api-server's table
      int ok = 0;
      while (System.nanoTime() - down < 3_000_000_000L) {
        HttpResponse<String> r = c.post("/v1/chat/completions", CHAT);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        HttpResponse<String> s = c.post("/v1/chat/completions", STREAM);
        assertThat(s.statusCode()).isEqualTo(200);
        assertThat(s.body()).contains("[DONE]").doesNotContain("\"error\"");
        ok += 2;
      }
      assertThat(c.api.upstream().controllerReachable()).isFalse();
      assertThat(c.get("/v1/models").body()).contains("\"m\"");
      assertThat(a.submitted.get()).as("both workers keep getting requests").isPositive();
      assertThat(b.submitted.get()).isPositive();

      c.startController();
      long up = System.nanoTime();
      while (c.controller.registry().size() < 2 && System.nanoTime() - up < 5_000_000_000L) {
        assertThat(c.post("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
      }
      long healMs = (System.nanoTime() - up) / 1_000_000;
      assertThat(c.controller.registry().size()).isEqualTo(2);
      assertThat(healMs).as("registry whole again after %d ms (heartbeat 200 ms)", healMs).isLessThan(1000);
      long polled = System.nanoTime();
      while (!c.api.upstream().controllerReachable() && System.nanoTime() - polled < 2_000_000_000L) {
        Thread.sleep(10);
      }
      assertThat(c.api.upstream().controllerReachable()).isTrue();
      for (int i = 0; i < 10; i++) {
        assertThat(c.post("/v1/chat/completions", CHAT).statusCode()).isEqualTo(200);
      }
      assertThat(c.get("/v1/models").body()).contains("\"m\"");
      System.out.printf("controller down 3.0 s: %d requests, all 200; registry whole %d ms after the restart%n", ok, healMs);
    }
  }

  /** While the controller is down a worker that dies is skipped: its requests go to the other one. */
  @Test
  void aWorkerThatDiesWhileTheControllerIsDownIsSkipped() throws Exception {
    try (TestCluster c = new TestCluster("lottery", 2000)) {
      ScriptedChatEngine live = new ScriptedChatEngine("live", 256, 1);
      var dead = c.addWorker(new HostedModel.Chat(List.of("m"), new ScriptedChatEngine("dead", 256, 1)), 4, 4);
      c.addWorker(new HostedModel.Chat(List.of("m"), live), 4, 4);
      c.startApi(List.of(), 1 << 20);
      c.syncTable();
      c.stopController();
      TestCluster.await(dead.kill());
      c.workers.remove(dead);
      for (int i = 0; i < 20; i++) {
        HttpResponse<String> r = c.post("/v1/chat/completions", CHAT);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      }
      assertThat(live.submitted.get()).isEqualTo(20);
    }
  }
}
