package io.tether.security;

import io.tether.TetherNode;
import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.SseReader;
import io.tether.support.TestNodes;
import io.tether.support.WsReader;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * {@code TETHER_STREAM_AUTH}: who may write plain streams ({@code writes}) and read them ({@code all}),
 * with the API key or a stream token; and the lifetime of every token: a live connection ends when its
 * token does, and no token mints one that outlives it.
 */
class StreamAuthIT {

  private static final String API_KEY = "stream-auth-key";
  private static final String SECRET = "a-secret-for-stream-auth-tests-32-chars";
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private static TetherNode writes;
  private static TetherNode all;
  private static Http w;
  private static Http a;

  @BeforeAll
  static void start() {
    writes = TestNodes.start(Map.of("TETHER_API_KEY", API_KEY, "TETHER_TOKEN_SECRET", SECRET, "TETHER_STREAM_AUTH", "writes"));
    all = TestNodes.start(Map.of("TETHER_API_KEY", API_KEY, "TETHER_TOKEN_SECRET", SECRET, "TETHER_STREAM_AUTH", "all"));
    w = new Http(writes.httpPort());
    a = new Http(all.httpPort());
  }

  @AfterAll
  static void stop() {
    for (Http http : new Http[] {w, a}) {
      if (http != null) {
        http.close();
      }
    }
    TestNodes.stop(writes);
    TestNodes.stop(all);
  }

  private static Map<String, String> bearer(String token, String... more) {
    Map<String, String> headers = new HashMap<>();
    headers.put("Authorization", "Bearer " + token);
    for (int i = 0; i < more.length; i += 2) {
      headers.put(more[i], more[i + 1]);
    }
    return headers;
  }

  private static Resp req(Http http, HttpMethod method, String path, Map<String, String> headers, String body) {
    return http.request(method, path, headers, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }

  private static JsonObject mint(Http http, String credential, String stream, String scope, long ttl) {
    Resp r = req(http, HttpMethod.POST, "/v1/tokens", bearer(credential),
        new JsonObject().put("stream", stream).put("scope", scope).put("ttlSeconds", ttl).encode());
    assertThat(r.status()).as(r.body()).isEqualTo(201);
    return r.json();
  }

  private static void refused(Resp r, int status, String code) {
    assertThat(r.status()).as(r.body()).isEqualTo(status);
    assertThat(r.errorCode()).isEqualTo(code);
  }

  @Test
  void writesNeedTheApiKeyOrAWriteTokenOfThatStream() {
    String name = "auth-" + UUID.randomUUID();
    String path = "/v1/stream/" + name;
    Map<String, String> text = Map.of("Content-Type", "text/plain");
    refused(req(w, HttpMethod.PUT, path, text, null), 401, "missing_token");
    assertThat(req(w, HttpMethod.PUT, path, bearer(API_KEY, "Content-Type", "text/plain"), null).status()).isEqualTo(201);
    refused(req(w, HttpMethod.POST, path, text, "anonymous"), 401, "missing_token");
    refused(req(w, HttpMethod.DELETE, path, Map.of(), null), 401, "missing_token");
    refused(req(w, HttpMethod.PUT, "/v1/stream/fork-" + UUID.randomUUID(), Map.of("Stream-Forked-From", path), null),
        401, "missing_token");

    String write = mint(w, API_KEY, name, "write", 600).getString("token");
    String read = mint(w, API_KEY, name, "read", 600).getString("token");
    String other = mint(w, API_KEY, "other-" + UUID.randomUUID(), "write", 600).getString("token");
    assertThat(req(w, HttpMethod.POST, path, bearer(write, "Content-Type", "text/plain"), "by token").status()).isEqualTo(204);
    refused(req(w, HttpMethod.POST, path, bearer(read, "Content-Type", "text/plain"), "x"), 403, "read_only_token");
    refused(req(w, HttpMethod.POST, path, bearer(other, "Content-Type", "text/plain"), "x"), 403, "wrong_stream");
    refused(req(w, HttpMethod.POST, path, bearer("not.a.jwt", "Content-Type", "text/plain"), "x"), 401, "invalid_token");

    // Reads stay open with "writes".
    Resp anonymousRead = w.get(path + "?offset=-1");
    assertThat(anonymousRead.status()).isEqualTo(200);
    assertThat(anonymousRead.body()).isEqualTo("by token");
  }

  @Test
  void aSessionTokenIsNotAStreamTokenNorTheOtherWayRound() {
    Resp session = req(w, HttpMethod.POST, "/v1/sessions", bearer(API_KEY), "{}");
    String sessionToken = session.json().getString("token");
    String id = session.json().getString("sessionId");
    String name = "cross-" + UUID.randomUUID();
    assertThat(req(w, HttpMethod.PUT, "/v1/stream/" + name, bearer(API_KEY, "Content-Type", "text/plain"), null).status())
        .isEqualTo(201);
    refused(req(w, HttpMethod.POST, "/v1/stream/" + name, bearer(sessionToken, "Content-Type", "text/plain"), "x"),
        401, "invalid_token");
    String streamToken = mint(w, API_KEY, name, "write", 600).getString("token");
    refused(w.get("/v1/sessions/" + id, bearer(streamToken)), 401, "invalid_token");
    refused(req(w, HttpMethod.POST, "/v1/tokens", bearer(API_KEY), "{\"stream\":\"sessions/" + id + "\"}"), 400,
        "invalid_stream_name");
  }

  @Test
  void aWebSocketAppendsOnlyWithWhatAPostWouldNeed() {
    String name = "ws-" + UUID.randomUUID();
    String path = "/v1/stream/" + name;
    assertThat(req(w, HttpMethod.PUT, path, bearer(API_KEY, "Content-Type", "text/plain"), null).status()).isEqualTo(201);
    JsonObject append = new JsonObject().put("type", "append").put("id", 1).put("data", "hello");
    try (WsReader anonymous = w.ws(path + "?offset=-1&live=ws")) {
      await().atMost(DEADLINE).until(() -> !anonymous.frames("control").isEmpty());
      anonymous.send(append);
      await().atMost(DEADLINE).until(() -> !anonymous.frames("error").isEmpty());
      assertThat(anonymous.frames("error").get(0).getString("code")).isEqualTo("append_not_allowed");
      assertThat(anonymous.frames("error").get(0).getInteger("status")).isEqualTo(403);
    }
    String write = mint(w, API_KEY, name, "write", 600).getString("token");
    try (WsReader writer = w.ws(path + "?offset=-1&live=ws&token=" + write)) {
      await().atMost(DEADLINE).until(() -> !writer.frames("control").isEmpty());
      writer.send(append);
      await().atMost(DEADLINE).until(() -> !writer.frames("ack").isEmpty());
    }
    assertThat(w.get(path + "?offset=-1").body()).isEqualTo("hello");
  }

  @Test
  void withAllReadsNeedACredentialToo() {
    String name = "all-" + UUID.randomUUID();
    String path = "/v1/stream/" + name;
    assertThat(req(a, HttpMethod.PUT, path, bearer(API_KEY, "Content-Type", "text/plain"), "content").status()).isEqualTo(201);
    refused(a.get(path + "?offset=-1"), 401, "missing_token");
    refused(a.get(path + "?offset=-1&live=long-poll"), 401, "missing_token");
    assertThat(a.head(path).status()).isEqualTo(401);
    assertThatThrownBy(() -> a.ws(path + "?offset=-1&live=ws").close()).hasStackTraceContaining("401");
    String read = mint(a, API_KEY, name, "read", 600).getString("token");
    Resp ok = a.get(path + "?offset=-1&token=" + read);
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.body()).isEqualTo("content");
    try (SseReader sse = a.sse(path + "?offset=-1&live=sse&token=" + read)) {
      await().atMost(DEADLINE).until(() -> sse.data().equals("content"));
    }
    // A fork reads another stream, which one stream token cannot cover.
    String forkName = "fork-" + UUID.randomUUID();
    String forkToken = mint(a, API_KEY, forkName, "write", 600).getString("token");
    refused(req(a, HttpMethod.PUT, "/v1/stream/" + forkName, bearer(forkToken, "Stream-Forked-From", path), null),
        403, "fork_needs_api_key");
    assertThat(req(a, HttpMethod.PUT, "/v1/stream/" + forkName, bearer(API_KEY, "Stream-Forked-From", path), null).status())
        .isEqualTo(201);
  }

  @Test
  void streamTokensAreMintedByTheApiKeyOrByAWriteTokenOfTheSameStream() {
    String name = "mint-" + UUID.randomUUID();
    refused(req(w, HttpMethod.POST, "/v1/tokens", Map.of(), new JsonObject().put("stream", name).encode()), 401,
        "invalid_api_key");
    JsonObject parent = mint(w, API_KEY, name, "write", 30);
    JsonObject child = mint(w, parent.getString("token"), name, "read", 3600);
    assertThat(child.getLong("expiresAt")).as("never outlives the token that minted it")
        .isLessThanOrEqualTo(parent.getLong("expiresAt"));
    refused(req(w, HttpMethod.POST, "/v1/tokens", bearer(child.getString("token")),
        new JsonObject().put("stream", name).encode()), 403, "read_only_token");
    refused(req(w, HttpMethod.POST, "/v1/tokens", bearer(parent.getString("token")),
        new JsonObject().put("stream", "another").encode()), 403, "wrong_stream");
  }

  @Test
  void aSessionTokenNeverMintsOneThatOutlivesIt() {
    Resp session = req(w, HttpMethod.POST, "/v1/sessions", bearer(API_KEY), "{}");
    String id = session.json().getString("sessionId");
    Resp shortLived = req(w, HttpMethod.POST, "/v1/sessions/" + id + "/tokens", bearer(API_KEY),
        "{\"scope\":\"write\",\"ttlSeconds\":30}");
    long parentExpiry = shortLived.json().getLong("expiresAt");
    Resp child = req(w, HttpMethod.POST, "/v1/sessions/" + id + "/tokens", bearer(shortLived.json().getString("token")),
        "{\"scope\":\"write\",\"ttlSeconds\":86400}");
    assertThat(child.status()).isEqualTo(201);
    assertThat(child.json().getLong("expiresAt")).isLessThanOrEqualTo(parentExpiry);
    // The token itself says so, not only the answer: its exp is checked on every request.
    JsonObject claims = new JsonObject(new String(java.util.Base64.getUrlDecoder()
        .decode(child.json().getString("token").split("\\.")[1]), StandardCharsets.UTF_8));
    assertThat(claims.getLong("exp")).isLessThanOrEqualTo(parentExpiry);
  }

  @Test
  void liveConnectionsEndWhenTheirTokenExpires() {
    String name = "expiring-" + UUID.randomUUID();
    String path = "/v1/stream/" + name;
    assertThat(req(a, HttpMethod.PUT, path, bearer(API_KEY, "Content-Type", "text/plain"), "x").status()).isEqualTo(201);
    String token = mint(a, API_KEY, name, "read", 2).getString("token");
    try (SseReader sse = a.sse(path + "?offset=-1&live=sse&token=" + token);
         WsReader ws = a.ws(path + "?offset=-1&live=ws&token=" + token)) {
      await().atMost(DEADLINE).until(() -> sse.ended() && ws.closeStatus() != null);
      assertThat(sse.commentLines()).contains("token expired");
      assertThat(ws.closeStatus()).isEqualTo((short) 4401);
    }
    // Session streams too.
    Resp session = req(w, HttpMethod.POST, "/v1/sessions", bearer(API_KEY), "{}");
    String id = session.json().getString("sessionId");
    String sessionToken = req(w, HttpMethod.POST, "/v1/sessions/" + id + "/tokens", bearer(API_KEY),
        "{\"scope\":\"read\",\"ttlSeconds\":2}").json().getString("token");
    try (WsReader ws = w.ws("/v1/stream/sessions/" + id + "?offset=-1&live=ws&token=" + sessionToken)) {
      await().atMost(DEADLINE).until(() -> ws.closeStatus() != null);
      assertThat(ws.closeStatus()).isEqualTo((short) 4401);
    }
  }
}
