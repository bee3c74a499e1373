package io.tether.conversation;

import io.tether.support.Http;
import io.tether.support.Http.Resp;
import io.tether.support.SseReader;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A device of a session in tests: its token, and helpers over the session API and event stream. */
final class SessionClient {

  final Http http;
  final String id;
  final String token;

  SessionClient(Http http, String id, String token) {
    this.http = http;
    this.id = id;
    this.token = token;
  }

  /** Creates a session and returns its first device (write token). */
  static SessionClient create(Http http) {
    Resp r = http.request(HttpMethod.POST, "/v1/sessions", Map.of(), new byte[0]);
    if (r.status() != 201) {
      throw new AssertionError("session not created: " + r.status() + " " + r.body());
    }
    return new SessionClient(http, r.json().getString("sessionId"), r.json().getString("token"));
  }

  /** A second device with its own write token (minted with this device's token). */
  SessionClient device(Http on, String name) {
    Resp r = post("/tokens", new JsonObject().put("scope", "write").put("device", name));
    if (r.status() != 201) {
      throw new AssertionError("token not minted: " + r.status() + " " + r.body());
    }
    return new SessionClient(on, id, r.json().getString("token"));
  }

  Resp post(String suffix, JsonObject body) {
    return http.request(HttpMethod.POST, "/v1/sessions/" + id + suffix,
        Map.of("Authorization", "Bearer " + token, "Content-Type", "application/json"),
        body == null ? new byte[0] : body.encode().getBytes(StandardCharsets.UTF_8));
  }

  Resp say(String text) {
    return post("/messages", new JsonObject().put("text", text));
  }

  JsonObject snapshot() {
    Resp r = http.get("/v1/sessions/" + id, Map.of("Authorization", "Bearer " + token));
    if (r.status() != 200) {
      throw new AssertionError("snapshot: " + r.status() + " " + r.body());
    }
    return r.json();
  }

  String streamPath() {
    return "/v1/stream/sessions/" + id;
  }

  /** Every event from {@code offset} to the tail (catch-up reads). */
  List<JsonObject> read(String offset) {
    List<JsonObject> out = new ArrayList<>();
    String at = offset;
    while (true) {
      Resp r = http.get(streamPath() + "?offset=" + at, Map.of("Authorization", "Bearer " + token));
      if (r.status() != 200) {
        throw new AssertionError("read from " + at + ": " + r.status() + " " + r.body());
      }
      new JsonArray(r.body()).forEach(e -> out.add((JsonObject) e));
      at = r.header("Stream-Next-Offset");
      if ("true".equals(r.header("Stream-Up-To-Date"))) {
        return out;
      }
    }
  }

  SseReader sse(String offset) {
    return http.sse(streamPath() + "?live=sse&offset=" + offset + "&token=" + token);
  }

  /** Session events received on an SSE reader so far, in order. */
  static List<JsonObject> events(SseReader reader) {
    List<JsonObject> out = new ArrayList<>();
    for (SseReader.Event e : reader.events("data")) {
      new JsonArray(e.data()).forEach(o -> out.add((JsonObject) o));
    }
    return out;
  }

  /** Concatenated text of the assistant deltas among {@code events}. */
  static String text(List<JsonObject> events) {
    StringBuilder out = new StringBuilder();
    for (JsonObject e : events) {
      if (SessionEvents.ASSISTANT_DELTA.equals(e.getString("type"))) {
        out.append(e.getString("text"));
      }
    }
    return out.toString();
  }

  static List<String> types(List<JsonObject> events) {
    return events.stream().map(e -> e.getString("type")).toList();
  }
}
