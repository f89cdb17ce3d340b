package ai.zhiku.inference.model;

import ai.zhiku.inference.tokenizer.ChatTemplate;
import ai.zhiku.inference.tokenizer.Tokenizer;

/**
 * Everything a chat family brings: the decoder, its tokenizer, its default chat template and
 * the ids that end a reply (eos and the family's extra stop ids).
 */
public record ChatModel(String family, DecoderModel model, Tokenizer tokenizer, ChatTemplate template, int[] stopIds)
    implements AutoCloseable {
  @Override
  public void close() { model.close(); }
}
