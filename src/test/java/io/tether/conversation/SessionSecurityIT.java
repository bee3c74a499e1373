package io.tether.conversation;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.TestNodes;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Every refusal of the session layer (the session rows of {@code docs/errors.md}), and a client whose
 * offset fell out of the ring continuing from the snapshot. Uses the built-in simulated model.
 */
class SessionSecurityIT {

  private static final String SECRET = "an-example-secret-of-at-least-32-characters";
  private static final String API_KEY = "backend-key";
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private static TetherNode node;
  private static Http http;

  @BeforeAll
  static void start() {
    node = TestNodes.start(Map.of(
        "TETHER_TOKEN_SECRET", SECRET,
        "TETHER_API_KEY", API_KEY,
        "TETHER_RING_MAX_EVENTS", "16",
        "TETHER_SIM_TOKENS_PER_SECOND", "400",
        "TETHER_SIM_ANSWER_WORDS", "60",
        "TETHER_COALESCE_MS", "1"));
    http = new Http(node.httpPort());
  }

  @AfterAll
  static void stop() {
    if (http != null) {
      http.close();
    }
    TestNodes.stop(node);
  }

  private static Resp post(String path, String bearer, String body) {
    Map<String, String> headers = bearer == null ? Map.of("Content-Type", "application/json")
        : Map.of("Content-Type", "application/json", "Authorization", "Bearer " + bearer);
    return http.request(HttpMethod.POST, path, headers, body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8));
  }

  private static SessionClient session() {
    Resp r = post("/v1/sessions", API_KEY, "{\"device\":\"laptop\"}");
    assertThat(r.status()).isEqualTo(201);
    return new SessionClient(http, r.json().getString("sessionId"), r.json().getString("token"));
  }

  private static void refused(Resp r, int status, String code) {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.errorCode()).isEqualTo(code);
  }

  @Test
  void creatingASessionNeedsTheApiKeyWhenOneIsConfigured() {
    refused(post("/v1/sessions", null, null), 401, "invalid_api_key");
    refused(post("/v1/sessions", "wrong", null), 401, "invalid_api_key");
    refused(post("/v1/sessions", API_KEY, "[1]"), 400, "invalid_json");
    refused(post("/v1/sessions", API_KEY, "{\"device\":\"no spaces allowed\"}"), 400, "invalid_device");
    Resp ok = post("/v1/sessions", API_KEY, null);
    assertThat(ok.status()).isEqualTo(201);
    assertThat(ok.json().getString("sessionId")).matches("[A-Za-z0-9_-]{22}");
    assertThat(ok.header("Cache-Control")).isEqualTo("no-store");
  }

  @Test
  void tokensAreCheckedOnEverySessionRouteAndTransport() {
    SessionClient a = session();
    SessionClient b = session();
    String id = a.id;
    // Missing, forged, expired and foreign tokens.
    refused(http.get("/v1/sessions/" + id), 401, "missing_token");
    refused(http.get("/v1/sessions/" + id, Map.of("Authorization", "Bearer not-a-jwt")), 401, "invalid_token");
    refused(http.get("/v1/sessions/" + id, Map.of("Authorization", "Bearer " + forged(id))), 401, "invalid_token");
    refused(http.get("/v1/sessions/" + id, Map.of("Authorization", "Bearer " + expired(id))), 401, "invalid_token");
    refused(http.get("/v1/sessions/" + id, Map.of("Authorization", "Bearer " + b.token)), 403, "wrong_session");
    refused(http.get(a.streamPath() + "?offset=-1"), 401, "missing_token");
    refused(http.get(a.streamPath() + "?offset=-1&token=" + b.token), 403, "wrong_session");
    refused(http.get(a.streamPath() + "?offset=-1&live=long-poll&token=" + b.token), 403, "wrong_session");
    assertThat(http.request(HttpMethod.HEAD, a.streamPath(), Map.of(), null).status()).isEqualTo(401);
    assertThatThrownBy(() -> http.ws(a.streamPath() + "?live=ws&offset=-1").close()).hasStackTraceContaining("401");
    assertThatThrownBy(() -> http.ws(a.streamPath() + "?live=ws&offset=-1&token=" + b.token).close())
        .hasStackTraceContaining("403");
    assertThat(http.get(a.streamPath() + "?offset=-1&token=" + a.token).status()).isEqualTo(200);
    assertThat(http.get(a.streamPath() + "?offset=-1", Map.of("Authorization", "Bearer " + a.token)).status()).isEqualTo(200);
    // A read token reads but does not write.
    Resp minted = post("/v1/sessions/" + id + "/tokens", a.token, "{\"scope\":\"read\"}");
    assertThat(minted.status()).isEqualTo(201);
    String read = minted.json().getString("token");
    assertThat(http.get("/v1/sessions/" + id, Map.of("Authorization", "Bearer " + read)).status()).isEqualTo(200);
    refused(post("/v1/sessions/" + id + "/messages", read, "{\"text\":\"hi\"}"), 403, "read_only_token");
    refused(post("/v1/sessions/" + id + "/stop", read, null), 403, "read_only_token");
    refused(post("/v1/sessions/" + id + "/tokens", read, "{\"scope\":\"write\"}"), 403, "read_only_token");
    try (var ws = http.ws(a.streamPath() + "?live=ws&offset=now&token=" + read)) {
      ws.send(new JsonObject().put("type", "command").put("id", 1)
          .put("command", new JsonObject().put("type", "message").put("text", "hi")));
      ws.send(new JsonObject().put("type", "command").put("id", 2).put("command", new JsonObject().put("type", "snapshot")));
      await().atMost(DEADLINE).until(() -> !ws.frames("error").isEmpty() && !ws.frames("result").isEmpty());
      assertThat(ws.frames("error").get(0).getString("code")).isEqualTo("read_only_token");
      assertThat(ws.frames("result").get(0).getInteger("status")).isEqualTo(200);
    }
    // The backend's API key mints tokens for any session; bad token requests are refused.
    assertThat(post("/v1/sessions/" + id + "/tokens", API_KEY, "{\"scope\":\"write\",\"device\":\"phone\"}").status())
        .isEqualTo(201);
    refused(post("/v1/sessions/" + id + "/tokens", API_KEY, "{\"scope\":\"admin\"}"), 400, "invalid_scope");
    refused(post("/v1/sessions/" + id + "/tokens", API_KEY, "{\"ttlSeconds\":0}"), 400, "invalid_ttl");
  }

  @Test
  void sessionStreamsAreWrittenOnlyThroughTheSessionApi() {
    SessionClient a = session();
    Map<String, String> auth = Map.of("Authorization", "Bearer " + a.token, "Content-Type", "application/json");
    refused(http.request(HttpMethod.POST, a.streamPath(), auth, "{\"type\":\"user.message\"}".getBytes()), 403,
        "session_stream_read_only");
    refused(http.request(HttpMethod.PUT, a.streamPath(), auth, null), 403, "session_stream_read_only");
    refused(http.request(HttpMethod.DELETE, a.streamPath(), auth, null), 403, "session_stream_read_only");
    refused(http.request(HttpMethod.PUT, "/v1/stream/sessions/made-up", auth, null), 403, "session_stream_read_only");
    try (var ws = http.ws(a.streamPath() + "?live=ws&offset=now&token=" + a.token)) {
      await().atMost(DEADLINE).until(() -> !ws.frames("control").isEmpty());
      ws.send(new JsonObject().put("type", "append").put("id", 1).put("data", new JsonObject().put("type", "user.message")));
      await().atMost(DEADLINE).until(() -> !ws.frames("error").isEmpty());
      assertThat(ws.frames("error").get(0).getString("code")).isEqualTo("session_stream_read_only");
      assertThat(ws.frames("error").get(0).getInteger("status")).isEqualTo(403);
    }
    refused(http.request(HttpMethod.PUT, "/v1/stream/copy-" + a.id, Map.of("Stream-Forked-From", "sessions/" + a.id), null),
        403, "session_stream_read_only");
  }

  @Test
  void badCommandsAreRefusedWithClearErrors() {
    SessionClient a = session();
    String base = "/v1/sessions/" + a.id;
    refused(http.get("/v1/sessions/not-a-session-id", Map.of("Authorization", "Bearer " + a.token)), 404, "session_not_found");
    String unknown = SessionIds.newId();
    Resp minted = post("/v1/sessions/" + unknown + "/tokens", API_KEY, null);
    refused(minted, 404, "session_not_found");
    refused(post(base + "/messages", a.token, null), 400, "invalid_text");
    refused(post(base + "/messages", a.token, "{\"text\":\"  \"}"), 400, "invalid_text");
    refused(post(base + "/messages", a.token, "{\"text\":42}"), 400, "invalid_text");
    refused(post(base + "/messages", a.token, "not json"), 400, "invalid_json");
    refused(post(base + "/stop", a.token, null), 409, "not_generating");
    refused(post(base + "/tools/call_nope/approve", a.token, null), 404, "unknown_tool_call");
    refused(post(base + "/tools/call_nope/result", a.token, "{}"), 400, "missing_result");
    refused(post(base + "/nothing-here", a.token, null), 404, "not_found");
    // The built-in weather tool needs approval and runs inside Tether: clients cannot post its result.
    assertThat(post(base + "/messages", a.token, "{\"text\":\"weather in Oslo?\"}").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> a.snapshot().getJsonArray("tools").size() == 1);
    String callId = a.snapshot().getJsonArray("tools").getJsonObject(0).getString("callId");
    refused(post(base + "/tools/" + callId + "/result", a.token, "{\"result\":1}"), 409, "tool_not_client_executed");
    refused(post(base + "/messages", a.token, "{\"text\":\"again\"}"), 409, "generation_in_progress");
    assertThat(post(base + "/tools/" + callId + "/deny", a.token, "{\"reason\":\"not now\"}").status()).isEqualTo(200);
    refused(post(base + "/tools/" + callId + "/approve", a.token, null), 409, "tool_not_awaiting_approval");
    await().atMost(DEADLINE).until(() -> a.snapshot().getJsonObject("generation").getString("state").equals("completed"));
    assertThat(a.snapshot().getJsonArray("messages").getJsonObject(2).getString("text"))
        .startsWith("The tool answered The user denied this tool call: not now.");
  }

  @Test
  void aClientWhoseOffsetLeftTheRingContinuesFromTheSnapshotWithoutAGap() {
    SessionClient a = session();
    String first = http.get(a.streamPath() + "?offset=now&token=" + a.token).header("Stream-Next-Offset");
    assertThat(a.say("a long answer please").status()).isEqualTo(200);
    await().atMost(DEADLINE).until(() -> a.snapshot().getJsonObject("generation").getString("state").equals("completed"));
    // The 16-event ring no longer holds the start of the answer.
    refused(http.get(a.streamPath() + "?offset=" + first + "&token=" + a.token), 410, "offset_gone");
    JsonObject snapshot = a.snapshot();
    JsonArray messages = snapshot.getJsonArray("messages");
    String text = messages.getJsonObject(messages.size() - 1).getString("text");
    List<JsonObject> after = a.read(snapshot.getString("offset"));
    assertThat(after).isEmpty();
    String expected = SimulatedModel.answer(new ChatRequest(List.of(new JsonObject().put("role", "user")
        .put("content", "a long answer please")), null, ""), 60);
    assertThat(text).isEqualTo(expected);
  }

  private static String forged(String sessionId) {
    return sign("another-secret-that-is-also-32-characters-long", new JsonObject().put("sub", sessionId)
        .put("scope", "write"), 600);
  }

  private static String expired(String sessionId) {
    return sign(SECRET, new JsonObject().put("sub", sessionId).put("scope", "write")
        .put("exp", System.currentTimeMillis() / 1000 - 120), 0);
  }

  private static String sign(String secret, JsonObject claims, int ttl) {
    Vertx vertx = Vertx.vertx();
    try {
      JWTAuth auth = JWTAuth.create(vertx, new JWTAuthOptions()
          .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret)));
      JWTOptions options = new JWTOptions().setIssuer("tether").addAudience("tether-session");
      if (ttl > 0) {
        options.setExpiresInSeconds(ttl);
      }
      return auth.generateToken(claims, options);
    } finally {
      vertx.close();
    }
  }
}
