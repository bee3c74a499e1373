package io.tether.support;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-compatible streaming chat-completions endpoint under the test's control, on loopback.
 *
 * <p>The answer to a prompt is always {@link #answer(String)}. When the request ends with an assistant
 * message (a resumed turn), the stream continues right after that text, so a correct client ends with
 * exactly the full answer. The text is sent in chunks of {@code chunkChars} characters every
 * {@code chunkMillis} ms. A prompt containing {@code "use the lookup tool"} first gets a tool call.
 * {@link #failNextAfterChunks} cuts the next stream after some chunks (an upstream failure).
 */
public final class FakeOpenAi implements AutoCloseable {

  private final Vertx vertx = Vertx.vertx();
  private final HttpServer server;
  private final int chunkChars;
  private final long chunkMillis;
  private final int answerWords;
  private final AtomicInteger failAfter = new AtomicInteger(-1);
  /** Every request body received, in order. */
  public final List<JsonObject> requests = new CopyOnWriteArrayList<>();
  /** Streams that were closed by the client before they ended (a stop). */
  public final AtomicInteger cancelled = new AtomicInteger();

  public FakeOpenAi(int chunkChars, long chunkMillis, int answerWords) {
    this.chunkChars = chunkChars;
    this.chunkMillis = chunkMillis;
    this.answerWords = answerWords;
    this.server = vertx.createHttpServer().requestHandler(req -> {
      if (!req.path().equals("/v1/chat/completions")) {
        req.response().setStatusCode(404).end();
        return;
      }
      req.body().onSuccess(body -> serve(body.toJsonObject(), req.response()));
    });
    try {
      server.listen(TestNodes.freePort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + server.actualPort() + "/v1";
  }

  /** The complete answer to {@code prompt}. */
  public String answer(String prompt) {
    StringBuilder text = new StringBuilder("Answer to [").append(prompt).append("]:");
    for (int i = 0; i < answerWords; i++) {
      text.append(' ').append("w").append(i).append(i % 10 == 9 ? "." : "");
    }
    return text.append(" END").toString();
  }

  public void failNextAfterChunks(int chunks) {
    failAfter.set(chunks);
  }

  /** What the next request gets instead of an answer (a misbehaving upstream). */
  public enum Misbehaviour {
    /** One chunk of the wrong shape ({@code "choices"} is a string), then silence. */
    MALFORMED_CHUNK,
    /** A line of more than 1 MiB, then silence. */
    ENDLESS_LINE,
    /** HTTP 400 whose body names a secret. */
    ERROR_WITH_SECRET
  }

  /** The text the {@link Misbehaviour#ERROR_WITH_SECRET} body carries. */
  public static final String SECRET_IN_ERROR = "sk-live-do-not-leak-4f7a";

  private volatile Misbehaviour misbehaviour;
  private final AtomicInteger misbehaviours = new AtomicInteger();

  /** The next {@code times} requests get {@code what}. */
  public void misbehave(Misbehaviour what, int times) {
    misbehaviour = what;
    misbehaviours.set(times);
  }

  private void serve(JsonObject body, HttpServerResponse response) {
    requests.add(body);
    Misbehaviour bad = misbehaviours.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? misbehaviour : null;
    if (bad == Misbehaviour.ERROR_WITH_SECRET) {
      response.setStatusCode(400).putHeader("Content-Type", "application/json")
          .end(new JsonObject().put("error", new JsonObject().put("message", "Incorrect API key provided: " + SECRET_IN_ERROR))
              .encode());
      return;
    }
    if (bad != null) {
      response.setChunked(true).putHeader("Content-Type", "text/event-stream");
      if (bad == Misbehaviour.MALFORMED_CHUNK) {
        response.write("data: {\"choices\":\"not an array\"}\n\n");
      } else {
        response.write("data: {\"x\":\"" + "y".repeat(1_200_000));
      }
      return; // and nothing more: the stream stays open
    }
    JsonArray messages = body.getJsonArray("messages");
    String prompt = "";
    boolean toolResult = false;
    String partial = "";
    for (int i = 0; i < messages.size(); i++) {
      JsonObject m = messages.getJsonObject(i);
      switch (m.getString("role")) {
        case "user" -> {
          prompt = m.getString("content");
          toolResult = false;
        }
        case "tool" -> toolResult = true;
        default -> {
        }
      }
    }
    JsonObject last = messages.getJsonObject(messages.size() - 1);
    if ("assistant".equals(last.getString("role")) && last.getValue("tool_calls") == null) {
      partial = last.getString("content", "");
    }
    response.setChunked(true).putHeader("Content-Type", "text/event-stream");
    if (prompt.contains("use the lookup tool") && !toolResult) {
      JsonObject call = new JsonObject().put("index", 0).put("id", "call_lookup_" + requests.size()).put("type", "function")
          .put("function", new JsonObject().put("name", "lookup").put("arguments", "{\"q\":\"tether\"}"));
      response.write(chunk(new JsonObject().put("tool_calls", new JsonArray().add(call)), null));
      response.write(chunk(new JsonObject(), "tool_calls"));
      response.end("data: [DONE]\n\n");
      return;
    }
    String full = answer(prompt) + (toolResult ? " (with the tool result)" : "");
    String rest = full.startsWith(partial) ? full.substring(partial.length()) : "MISMATCH" + full;
    int cutAfter = failAfter.getAndSet(-1);
    stream(response, rest, 0, 0, cutAfter);
  }

  private void stream(HttpServerResponse response, String rest, int position, int sent, int cutAfter) {
    if (response.closed()) {
      cancelled.incrementAndGet();
      return;
    }
    if (cutAfter >= 0 && sent >= cutAfter) {
      response.reset();
      return;
    }
    if (position >= rest.length()) {
      response.write(chunk(new JsonObject(), "stop"));
      response.end("data: [DONE]\n\n");
      return;
    }
    int end = Math.min(rest.length(), position + chunkChars);
    response.write(chunk(new JsonObject().put("content", rest.substring(position, end)), null));
    vertx.setTimer(chunkMillis, t -> stream(response, rest, end, sent + 1, cutAfter));
  }

  private static String chunk(JsonObject delta, String finishReason) {
    JsonObject choice = new JsonObject().put("index", 0).put("delta", delta).put("finish_reason", finishReason);
    return "data: " + new JsonObject().put("id", "chatcmpl-test").put("object", "chat.completion.chunk")
        .put("choices", new JsonArray().add(choice)).encode() + "\n\n";
  }

  @Override
  public void close() {
    vertx.close();
  }
}
