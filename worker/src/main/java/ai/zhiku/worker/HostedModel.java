package ai.zhiku.worker;

import ai.zhiku.common.engine.ChatEngine;
import ai.zhiku.common.engine.EmbeddingEngine;
import java.util.List;

/** The one model a worker hosts, under the names it is served as. */
public sealed interface HostedModel extends AutoCloseable permits HostedModel.Chat, HostedModel.Embedding {

  List<String> names();

  @Override
  void close();

  record Chat(List<String> names, ChatEngine engine) implements HostedModel {
    @Override
    public void close() {
      engine.close();
    }
  }

  record Embedding(List<String> names, EmbeddingEngine engine) implements HostedModel {
    @Override
    public void close() {
      engine.close();
    }
  }
}
