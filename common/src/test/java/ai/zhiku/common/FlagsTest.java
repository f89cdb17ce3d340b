package ai.zhiku.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlagsTest {
  private static final Flag PORT = Flag.integer("port", 8000, "port");
  private static final Flag PATHS = Flag.of("model-path", Flag.Kind.PATH, null, "model").asRepeatable();
  private static final Flag BODY = Flag.of("max-body-bytes", Flag.Kind.BYTES, "1024", "body");
  private static final Flag TEMPLATE = Flag.text("chat-template", null, "template").alias("conv-template");
  private static final Flag TRUNCATE = Flag.bool("truncate", "cut");
  private static final Flags FLAGS = Flags.builder("worker", "test").add(PORT, PATHS, BODY, TEMPLATE, TRUNCATE, Flags.CONFIG).build();

  @TempDir
  Path tmp;

  @Test
  void layersYamlEnvironmentAndCommandLineWithDeclaredDefaults() throws Exception {
    Path yaml = tmp.resolve("z.yaml");
    Files.writeString(yaml, "port: 9000\nmodel_path: [/a, /b]\nmax-body-bytes: 2MiB\n");
    Options o = FLAGS.parse(new String[] {"--config", yaml.toString(), "--conv-template", "chatml", "--truncate", "--port=9100"},
        Map.of("ZHIKU_MODEL_PATH", "/env", "ZHIKU_JAVA_OPTS", "-Xmx1g"));
    assertThat(o.getInt(PORT)).isEqualTo(9100);
    assertThat(o.all(PATHS)).containsExactly("/env");
    assertThat(o.getBytes(BODY)).isEqualTo(2L << 20);
    assertThat(o.get(TEMPLATE)).isEqualTo("chatml");
    assertThat(o.getBoolean(TRUNCATE)).isTrue();
    assertThat(FLAGS.parse(new String[0], Map.of()).getInt(PORT)).isEqualTo(8000);
  }

  @Test
  void refusesUnknownFlagsBadValuesAndStrayWordsNamingTheFix() throws Exception {
    assertThatThrownBy(() -> FLAGS.parse(new String[] {"--prot", "1"}, Map.of()))
        .hasMessageStartingWith("unknown flag --prot; did you mean --port?");
    assertThatThrownBy(() -> FLAGS.parse(new String[] {"--port", "x"}, Map.of())).hasMessage("--port must be an integer, got 'x'");
    assertThatThrownBy(() -> FLAGS.parse(new String[] {"--port"}, Map.of())).hasMessageContaining("--port needs a value");
    assertThatThrownBy(() -> FLAGS.parse(new String[] {"stray"}, Map.of())).hasMessageContaining("unexpected argument 'stray'");
    assertThatThrownBy(() -> FLAGS.parse(new String[0], Map.of("ZHIKU_PORT", "x"))).hasMessageStartingWith("ZHIKU_PORT (environment)");
    Path yaml = tmp.resolve("bad.yaml");
    Files.writeString(yaml, "max-body-byte: 1\n");
    assertThatThrownBy(() -> FLAGS.parse(new String[] {"--config", yaml.toString()}, Map.of()))
        .hasMessageContaining("unknown key --max-body-byte; did you mean --max-body-bytes?");
    // a boolean does not swallow the next word unless it is a boolean
    assertThatThrownBy(() -> FLAGS.parse(new String[] {"--truncate", "dir"}, Map.of())).hasMessageContaining("unexpected argument 'dir'");
  }

  @Test
  void helpListsEveryFlagOnce() {
    String help = FLAGS.help();
    for (String t : new String[] {"--port N", "--model-path PATH", "--max-body-bytes SIZE", "--chat-template TEXT", "--truncate", "--config PATH"}) {
      assertThat(help).contains("\n  " + t);
    }
    assertThat(help).contains("(also --conv-template)").contains("[repeatable]").contains("(default 8000)");
  }
}
