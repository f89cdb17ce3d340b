package ai.zhiku.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OptionsTest {

  @TempDir
  Path tmp;

  @Test
  void commandLineBeatsEnvironmentBeatsYamlBeatsDefaults() throws Exception {
    Path yaml = tmp.resolve("zhiku.yaml");
    Files.writeString(yaml, """
        port: 9000
        host: 0.0.0.0
        model_path: [/models/a, /models/b]
        limit-worker-concurrency: 3
        """);
    Options o = Options.parse(new String[] {"--config", yaml.toString(), "--port=9100"},
        Map.of("ZHIKU_HOST", "10.0.0.1", "ZHIKU_LIMIT_WORKER_CONCURRENCY", "7", "PATH", "/bin"));
    assertThat(o.getInt("port", 8000)).isEqualTo(9100);
    assertThat(o.get("host", "127.0.0.1")).isEqualTo("10.0.0.1");
    assertThat(o.getInt("limit-worker-concurrency", 64)).isEqualTo(7);
    assertThat(o.all("model-path")).containsExactly("/models/a", "/models/b");
    assertThat(o.getInt("max-queue", 256)).isEqualTo(256);
  }

  @Test
  void repeatedAndCommaSeparatedFlagsAccumulate() {
    Options o = Options.parse(new String[] {"serve", "--model-path", "a", "--model-path", "b", "--api-keys", "k1,k2", "--no-kb"}, Map.of());
    assertThat(o.all("model-path")).containsExactly("a", "b");
    assertThat(o.all("api-keys")).containsExactly("k1", "k2");
    assertThat(o.getBoolean("no-kb", false)).isTrue();
    assertThat(o.positional()).containsExactly("serve");
  }

  @Test
  void badValuesNameTheFlag() {
    Options o = Options.parse(new String[] {"--port", "eighty", "--speed", "fast", "--verbose", "maybe"}, Map.of());
    assertThatThrownBy(() -> o.getInt("port", 1)).hasMessageContaining("--port").hasMessageContaining("eighty");
    assertThatThrownBy(() -> o.getDouble("speed", 1)).hasMessageContaining("--speed");
    assertThatThrownBy(() -> o.getBoolean("verbose", false)).hasMessageContaining("--verbose");
    assertThat(List.of()).isEmpty();
  }
}
