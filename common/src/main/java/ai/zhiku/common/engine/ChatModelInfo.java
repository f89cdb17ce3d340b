package ai.zhiku.common.engine;

/** What a chat engine tells about itself. */
public record ChatModelInfo(int contextLength, String chatTemplate, double speed) {}
