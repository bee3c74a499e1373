package io.tether.ops;

import io.tether.support.LocalCluster;
import io.tether.support.TestNodes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What an operator sees in the log of a node started with default settings, from the built jar as it
 * ships: through a start, a stream written and read, a conversation answered, and a graceful stop, the
 * only WARN or ERROR line is the one security warning that says what is open and why a token secret
 * should be set. Anything else at that level is noise an operator learns to ignore, and then misses the
 * line that matters.
 */
class DefaultStartLogIT {

  private static final Pattern WARN_OR_ERROR = Pattern.compile("^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} (WARN|ERROR) ");

  @Test
  void aDefaultNodeLogsOnlyItsSecurityWarning(@TempDir Path dir) throws Exception {
    Path jar = Path.of("target/tether.jar").toAbsolutePath();
    assertThat(jar).as("the packaged node (mvn verify builds it before the integration tests)").exists();
    int http = TestNodes.freePort();
    int cluster = TestNodes.freePort();
    // The event bus would take an ephemeral port by default. Nodes of earlier tests in this run may have
    // used that port and their surviving peers may still try to reach it, and what they send (another
    // cluster's frames, TLS handshakes) would be logged by this node. A port from the tests' own range is
    // used by no one else in the run.
    int eventBus = TestNodes.freePort();
    Path log = dir.resolve("node.log");
    ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-jar", jar.toString()).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile());
    // Default settings: nothing inherited, only where to listen (loopback, free ports) is given.
    builder.environment().keySet().removeIf(name -> name.startsWith("TETHER_"));
    builder.environment().putAll(java.util.Map.of("TETHER_HTTP_HOST", "127.0.0.1",
        "TETHER_HTTP_PORT", Integer.toString(http), "TETHER_CLUSTER_HOST", "127.0.0.1",
        "TETHER_CLUSTER_PORT", Integer.toString(cluster), "TETHER_CLUSTER_MEMBERS", "127.0.0.1:" + cluster,
        "TETHER_EVENTBUS_PORT", Integer.toString(eventBus)));
    Process node = builder.start();
    try {
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      String base = "http://127.0.0.1:" + http;
      await().atMost(Duration.ofSeconds(90)).ignoreExceptions()
          .until(() -> send(client, HttpRequest.newBuilder(URI.create(base + "/health/ready"))).statusCode() == 200);

      // A stream created, written and read.
      String stream = base + "/v1/stream/log-check";
      assertThat(send(client, HttpRequest.newBuilder(URI.create(stream)).header("Content-Type", "text/plain")
          .PUT(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(201);
      assertThat(send(client, HttpRequest.newBuilder(URI.create(stream)).header("Content-Type", "text/plain")
          .POST(HttpRequest.BodyPublishers.ofString("hello"))).statusCode()).isEqualTo(204);
      assertThat(send(client, HttpRequest.newBuilder(URI.create(stream + "?offset=-1"))).body()).isEqualTo("hello");

      // A conversation answered by the built-in simulated model.
      JsonObject session = new JsonObject(send(client, HttpRequest.newBuilder(URI.create(base + "/v1/sessions"))
          .POST(HttpRequest.BodyPublishers.ofString("{\"device\":\"laptop\"}"))).body());
      String id = session.getString("sessionId");
      String token = session.getString("token");
      assertThat(send(client, HttpRequest.newBuilder(URI.create(base + "/v1/sessions/" + id + "/messages"))
          .header("Authorization", "Bearer " + token)
          .POST(HttpRequest.BodyPublishers.ofString("{\"text\":\"hello\"}"))).statusCode()).isEqualTo(200);
      await().atMost(Duration.ofSeconds(60)).until(() -> "completed".equals(new JsonObject(send(client,
          HttpRequest.newBuilder(URI.create(base + "/v1/sessions/" + id)).header("Authorization", "Bearer " + token))
          .body()).getJsonObject("generation").getString("state")));
    } finally {
      node.destroy(); // SIGTERM: the graceful stop a pod deletion sends
      if (!node.waitFor(60, TimeUnit.SECONDS)) {
        node.destroyForcibly();
      }
    }
    List<String> lines = Files.readAllLines(log);
    assertThat(lines).as("the node's log").anyMatch(l -> l.contains("stopped"));
    List<String> warnings = lines.stream().filter(l -> WARN_OR_ERROR.matcher(l).find()).toList();
    assertThat(warnings).as("WARN and ERROR lines of the node's log").hasSize(1);
    assertThat(warnings.get(0)).contains("Open to anyone who can reach this node").contains("TETHER_TOKEN_SECRET")
        .contains("TETHER_API_KEY");
  }

  /**
   * A member that dies is one line in a survivor's log: no WARN with a stack trace for each connection
   * the dead member reset or refused, and nothing at WARN or ERROR but the security warning.
   */
  @Test
  void aMemberThatDiesIsOneLineInTheSurvivorsLog(@TempDir Path dir) throws Exception {
    try (LocalCluster cluster = new LocalCluster(18_780, 16_500).env("TETHER_CLUSTER_DIR", dir.toString())) {
      cluster.run("up", "2");
      cluster.run("kill", "2");
      Path log = dir.resolve("node-1.log");
      await().atMost(Duration.ofSeconds(60))
          .until(() -> Files.readAllLines(log).stream().anyMatch(l -> l.contains("member node-2 left")));
      List<String> lines = Files.readAllLines(log);
      assertThat(lines).filteredOn(l -> l.contains(" left; ")).hasSize(1);
      assertThat(lines).as("WARN and ERROR lines of the survivor's log")
          .filteredOn(l -> WARN_OR_ERROR.matcher(l).find() && !l.contains("Open to anyone")).isEmpty();
      assertThat(lines).as("stack trace lines").noneMatch(l -> l.startsWith("\tat ") || l.startsWith("Caused by"));
    }
  }

  private static HttpResponse<String> send(HttpClient client, HttpRequest.Builder request) throws Exception {
    return client.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
