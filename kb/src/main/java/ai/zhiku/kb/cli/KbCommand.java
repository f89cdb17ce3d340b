package ai.zhiku.kb.cli;

import ai.zhiku.common.Flag;
import ai.zhiku.common.Flags;
import ai.zhiku.common.Options;
import ai.zhiku.kb.ingest.DocumentParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * {@code zhiku kb}: command-line client of the knowledge-base REST API.
 *
 * <pre>
 * kb ingest DIR  --kb NAME [--server URL] [--api-key KEY] [--create]
 * kb eval   FILE --kb NAME [--server URL] [--api-key KEY] [-k 5] [--mode hybrid|dense|keyword] [-v]
 * </pre>
 *
 * {@code ingest} uploads every supported file under DIR (recursively) as a multipart POST to
 * {@code /v1/knowledge_bases/{name}/documents}, named by its path relative to DIR, with a progress bar on
 * stderr. {@code eval} reads JSON lines {@code {"question": ..., "answer": ...}}, searches each question and
 * counts a hit when a returned chunk contains the answer string; it prints recall@k and MRR.
 */
public final class KbCommand {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String DEFAULT_SERVER = "http://127.0.0.1:8000";

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final PrintStream out;
  private final PrintStream err;

  public KbCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  private static final Flag KB = Flag.text("kb", null, "the knowledge base's name (required)");
  private static final Flag SERVER = Flag.of("server", Flag.Kind.URL, DEFAULT_SERVER, "the Zhiku server");
  private static final Flag API_KEY = Flag.text("api-key", null, "API key of the server (or ZHIKU_API_KEY in the environment)").shownDefault("none");
  private static final Flag CREATE = Flag.bool("create", "create the knowledge base first when it does not exist");
  private static final Flag TOP_K = Flag.integer("top-k", 5, "chunks retrieved per question").alias("k");
  private static final Flag MODE = Flag.choice("mode", "hybrid", "retrieval mode", "hybrid", "dense", "keyword");
  private static final Flag VERBOSE = Flag.bool("verbose", "print every question that missed").alias("v");

  /** The flags of {@code kb ingest} or {@code kb eval}. */
  public static Flags flags(String sub) {
    return switch (sub) {
      case "ingest" -> Flags.builder("kb ingest", "uploads every supported file under DIR (recursively) to a knowledge base")
          .positional("DIR").add(KB, SERVER, API_KEY, CREATE).build();
      case "eval" -> Flags.builder("kb eval", "searches each question of a JSON-lines file {question, answer}; prints recall@k and MRR")
          .positional("FILE").add(KB, SERVER, API_KEY, TOP_K, MODE, VERBOSE).build();
      default -> throw new IllegalArgumentException(sub);
    };
  }

  public static void main(String[] args) {
    System.exit(new KbCommand(System.out, System.err).run(args));
  }

  /** Runs one command; returns the process exit code (0 ok, 1 failed, 2 usage). */
  public int run(String[] args) {
    if (args.length == 0 || !(args[0].equals("ingest") || args[0].equals("eval"))) {
      if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
        out.println(USAGE);
        return 0;
      }
      return usage(args.length == 0 ? "expected ingest or eval" : "unknown subcommand '" + args[0] + "'");
    }
    Flags flags = flags(args[0]);
    String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
    if (Flags.wantsHelp(rest)) {
      out.print(flags.help());
      return 0;
    }
    Options o;
    try {
      o = flags.parse(rest);
    } catch (IllegalArgumentException e) {
      err.println("kb: " + e.getMessage());
      return 2;
    }
    if (o.positional().size() != 1 || o.get(KB) == null) {
      return usage("expected one " + (args[0].equals("ingest") ? "DIR" : "FILE") + " and --kb NAME");
    }
    String server = o.get(SERVER).replaceAll("/+$", "");
    Api api = new Api(server, o.get(API_KEY), o.get(KB));
    try {
      api.health(); // a server that is not there is one sentence, before any progress bar
      if (args[0].equals("ingest")) {
        return ingest(api, Path.of(o.positional().get(0)), o.getBoolean(CREATE));
      }
      return eval(api, Path.of(o.positional().get(0)), o.getInt(TOP_K), o.get(MODE), o.getBoolean(VERBOSE));
    } catch (java.net.ConnectException e) {
      err.println("kb: cannot reach the server at " + server + " (connection refused); start it with bin/zhiku serve, "
          + "or point --server at a running one");
      return 1;
    } catch (java.net.http.HttpTimeoutException e) {
      err.println("kb: the server at " + server + " did not answer in time (" + e.getMessage() + ")");
      return 1;
    } catch (IOException e) {
      err.println("kb: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + " (server " + server + ")");
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
  }

  private static final String USAGE = """
      usage: bin/zhiku kb ingest DIR  --kb NAME [--server URL] [--api-key KEY] [--create]
             bin/zhiku kb eval   FILE --kb NAME [--server URL] [--api-key KEY] [-k 5] [--mode hybrid|dense|keyword] [-v]
      bin/zhiku kb ingest --help and bin/zhiku kb eval --help describe every flag. The server defaults to %s;
      the API key may also come from ZHIKU_API_KEY.""".formatted(DEFAULT_SERVER);

  private int usage(String problem) {
    if (problem != null) {
      err.println("kb: " + problem);
    }
    err.println(USAGE);
    return 2;
  }

  // --- ingest ----------------------------------------------------------------------------------------

  private int ingest(Api api, Path dir, boolean create) throws IOException, InterruptedException {
    if (!Files.isDirectory(dir)) {
      err.println("kb: not a directory: " + dir);
      return 2;
    }
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir)) {
      files = walk.filter(Files::isRegularFile).filter(KbCommand::supported).sorted().toList();
    }
    if (create) {
      HttpResponse<String> r = api.postJson("/v1/knowledge_bases", JSON.createObjectNode().put("name", api.kb));
      if (r.statusCode() / 100 != 2 && !(r.statusCode() == 400 && r.body().contains("knowledge_base_exists"))) {
        err.println("kb: cannot create knowledge base: HTTP " + r.statusCode() + " " + errorMessage(r.body()));
        return 1;
      }
    }
    Map<String, Integer> counts = new HashMap<>();
    List<String> failures = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < files.size(); i++) {
      Path f = files.get(i);
      String name = dir.relativize(f).toString().replace('\\', '/');
      progress(i, files.size(), name);
      HttpResponse<String> r = api.upload(name, Files.readAllBytes(f));
      if (r.statusCode() / 100 == 2) {
        String status = "uploaded";
        try {
          JsonNode body = JSON.readTree(r.body());
          status = body.path("status").asText(status);
        } catch (IOException ignored) {
          // a non-JSON success body still counts as uploaded
        }
        counts.merge(status, 1, Integer::sum);
      } else {
        failures.add(name + ": HTTP " + r.statusCode() + " " + errorMessage(r.body()));
        if (r.statusCode() == 401 || r.statusCode() == 404 && r.body().contains("knowledge_base_not_found")) {
          break; // every further upload would fail the same way
        }
      }
    }
    progress(files.size(), files.size(), "");
    err.println();
    double secs = (System.nanoTime() - t0) / 1e9;
    out.printf(Locale.ROOT, "%d files in %.1f s: %s%n", files.size(), secs, counts.isEmpty() ? "none stored" : counts);
    for (String f : failures) {
      out.println("failed " + f);
    }
    return failures.isEmpty() ? 0 : 1;
  }

  private static boolean supported(Path f) {
    String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
    int dot = n.lastIndexOf('.');
    return dot > 0 && DocumentParser.SUPPORTED.contains(n.substring(dot + 1));
  }

  private void progress(int done, int total, String name) {
    int width = 30;
    int filled = total == 0 ? width : done * width / total;
    String label = name.length() > 40 ? "…" + name.substring(name.length() - 39) : name;
    err.printf(Locale.ROOT, "\r[%s%s] %d/%d %-40s", "#".repeat(filled), " ".repeat(width - filled), done, total, label);
    err.flush();
  }

  // --- eval ------------------------------------------------------------------------------------------

  private int eval(Api api, Path file, int k, String mode, boolean verbose) throws IOException, InterruptedException {
    List<JsonNode> qa = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        JsonNode n = JSON.readTree(line);
        if (!n.hasNonNull("question") || !n.hasNonNull("answer")) {
          err.println("kb: every line needs \"question\" and \"answer\": " + line);
          return 2;
        }
        qa.add(n);
      }
    }
    int hits = 0;
    double reciprocal = 0;
    for (int i = 0; i < qa.size(); i++) {
      String question = qa.get(i).get("question").asText();
      String answer = qa.get(i).get("answer").asText();
      ObjectNode body = JSON.createObjectNode().put("query", question).put("top_k", k).put("mode", mode);
      HttpResponse<String> r = api.postJson("/v1/knowledge_bases/" + api.kbPath() + "/search", body);
      if (r.statusCode() / 100 != 2) {
        err.println("kb: search failed: HTTP " + r.statusCode() + " " + errorMessage(r.body()));
        return 1;
      }
      int rank = 0;
      JsonNode data = JSON.readTree(r.body()).path("data");
      for (int j = 0; j < data.size(); j++) {
        if (data.get(j).path("text").asText().contains(answer)) {
          rank = j + 1;
          break;
        }
      }
      if (rank > 0) {
        hits++;
        reciprocal += 1.0 / rank;
      } else if (verbose) {
        out.println("miss: " + question + " -> " + answer);
      }
    }
    int n = Math.max(1, qa.size());
    out.printf(Locale.ROOT, "questions %d, mode %s: recall@%d = %.3f, MRR = %.3f%n", qa.size(), mode, k,
        (double) hits / n, reciprocal / n);
    return 0;
  }

  private static String errorMessage(String body) {
    try {
      JsonNode e = JSON.readTree(body).path("error");
      if (e.hasNonNull("message")) {
        return e.get("message").asText();
      }
    } catch (IOException ignored) {
      // not JSON
    }
    return body.length() > 200 ? body.substring(0, 200) : body;
  }

  /** The REST calls, with the API key. */
  private final class Api {
    final String server;
    final String apiKey;
    final String kb;

    Api(String server, String apiKey, String kb) {
      this.server = server;
      this.apiKey = apiKey;
      this.kb = kb;
    }

    String kbPath() {
      return URLEncoder.encode(kb, StandardCharsets.UTF_8).replace("+", "%20"); // a path, not a form: a space is %20
    }

    private HttpRequest.Builder request(String path) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path)).timeout(Duration.ofMinutes(10));
      if (apiKey != null && !apiKey.isBlank()) {
        b.header("Authorization", "Bearer " + apiKey);
      }
      return b;
    }

    void health() throws IOException, InterruptedException {
      http.send(HttpRequest.newBuilder(URI.create(server + "/health")).timeout(Duration.ofSeconds(10)).GET().build(),
          HttpResponse.BodyHandlers.discarding());
    }

    HttpResponse<String> postJson(String path, JsonNode body) throws IOException, InterruptedException {
      return http.send(request(path).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
          HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> upload(String fileName, byte[] content) throws IOException, InterruptedException {
      String boundary = "zhiku-" + UUID.randomUUID();
      ByteArrayOutputStream body = new ByteArrayOutputStream(content.length + 512);
      String safeName = fileName.replace("\\", "\\\\").replace("\"", "\\\"");
      body.writeBytes(("--" + boundary + "\r\n"
          + "Content-Disposition: form-data; name=\"file\"; filename=\"" + safeName + "\"\r\n"
          + "Content-Type: " + contentType(fileName) + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
      body.writeBytes(content);
      body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
      return http.send(request("/v1/knowledge_bases/" + kbPath() + "/documents")
          .header("Content-Type", "multipart/form-data; boundary=" + boundary)
          .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  static String contentType(String fileName) {
    String n = fileName.toLowerCase(Locale.ROOT);
    String ext = n.substring(n.lastIndexOf('.') + 1);
    return switch (ext) {
      case "md", "markdown" -> "text/markdown; charset=utf-8";
      case "html", "htm" -> "text/html; charset=utf-8";
      case "csv" -> "text/csv; charset=utf-8";
      case "json" -> "application/json";
      case "pdf" -> "application/pdf";
      case "docx" -> "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
      default -> "text/plain; charset=utf-8";
    };
  }
}
