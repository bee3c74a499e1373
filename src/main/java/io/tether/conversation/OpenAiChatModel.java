package io.tether.conversation;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.util.Map;
import java.util.TreeMap;

/**
 * An OpenAI-compatible {@code POST {baseUrl}/chat/completions} endpoint with {@code stream: true}: the
 * answer arrives as server-sent events whose {@code data:} lines are completion chunks, ended by
 * {@code data: [DONE]}.
 *
 * <p>Built on the Vert.x HTTP client rather than WebClient because a Stop must close the upstream
 * request at once ({@link HttpClientRequest#reset()}), so the provider stops generating and billing.
 * A failure before the first chunk (connection refused, 429, 5xx, connect or idle timeout) is retried
 * with exponential backoff; a failure after some text is reported, and the generation runner resumes
 * the turn with the text delivered so far.
 */
public final class OpenAiChatModel implements ChatModel {

  private static final Logger log = LoggerFactory.getLogger(OpenAiChatModel.class);

  /** Longest line of the upstream's event stream; a longer one fails the attempt. */
  static final int MAX_LINE_BYTES = 1 << 20;

  private final Vertx vertx;
  private final HttpClient client;
  private final ModelSettings settings;
  private final URI endpoint;

  public OpenAiChatModel(Vertx vertx, ModelSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
    String base = settings.baseUrl().endsWith("/") ? settings.baseUrl() : settings.baseUrl() + "/";
    this.endpoint = URI.create(base).resolve("chat/completions");
    boolean tls = "https".equalsIgnoreCase(endpoint.getScheme());
    this.client = vertx.createHttpClient(new HttpClientOptions()
        .setSsl(tls)
        .setConnectTimeout((int) settings.connectTimeoutMillis())
        .setKeepAlive(true));
  }

  @Override
  public String name() {
    return settings.model();
  }

  @Override
  public ModelCall stream(ChatRequest request, ModelSink sink) {
    Attempt attempt = new Attempt(request.toOpenAi(settings.model()).toBuffer(), sink, vertx.getOrCreateContext());
    attempt.start();
    return attempt;
  }

  private final class Attempt implements ModelCall {
    final Buffer body;
    final ModelSink sink;
    final Context context;
    final Map<Integer, ToolCallBuilder> toolCalls = new TreeMap<>();
    int tries;
    boolean produced;
    boolean done;
    String finishReason;
    HttpClientRequest current;
    long retryTimer = -1;

    Attempt(Buffer body, ModelSink sink, Context context) {
      this.body = body;
      this.sink = sink;
      this.context = context;
    }

    void start() {
      int port = endpoint.getPort() > 0 ? endpoint.getPort() : ("https".equalsIgnoreCase(endpoint.getScheme()) ? 443 : 80);
      String path = endpoint.getRawPath() + (endpoint.getRawQuery() == null ? "" : "?" + endpoint.getRawQuery());
      RequestOptions options = new RequestOptions()
          .setMethod(HttpMethod.POST)
          .setHost(endpoint.getHost())
          .setPort(port)
          .setURI(path)
          .setConnectTimeout(settings.connectTimeoutMillis())
          .setIdleTimeout(settings.idleTimeoutMillis())
          .putHeader("Content-Type", "application/json")
          .putHeader("Accept", "text/event-stream");
      if (!settings.apiKey().isEmpty()) {
        options.putHeader("Authorization", "Bearer " + settings.apiKey());
      }
      client.request(options).onComplete(ar -> {
        if (done) {
          if (ar.succeeded()) {
            ar.result().reset();
          }
          return;
        }
        if (ar.failed()) {
          retryOrFail(unreachable(ar.cause()));
          return;
        }
        current = ar.result();
        current.exceptionHandler(this::transportFailed);
        current.send(body).onComplete(resp -> {
          if (resp.failed()) {
            retryOrFail(unreachable(resp.cause()));
          } else {
            response(resp.result());
          }
        });
      });
    }

    void response(HttpClientResponse response) {
      if (done) {
        return;
      }
      int status = response.statusCode();
      if (status != 200) {
        // The body stays in the log: it can name the account, the key's prefix or the prompt, and the
        // error event is read by every device of the session.
        // Only its first bytes are kept, whatever size the upstream sends.
        Buffer head = Buffer.buffer();
        response.handler(chunk -> {
          if (head.length() < 1024) {
            head.appendBuffer(chunk.slice(0, Math.min(chunk.length(), 1024 - head.length())));
          }
        });
        response.exceptionHandler(e -> retryOrFail(unreachable(e)));
        response.endHandler(v -> {
          log.warn("model endpoint answered {}: {}", status, abbreviate(head.toString()));
          UpstreamException e = new UpstreamException("the model endpoint answered HTTP " + status, status);
          if (status == 429 || status >= 500) {
            retryOrFail(e);
          } else {
            fail(e);
          }
        });
        return;
      }
      response.exceptionHandler(this::transportFailed);
      RecordParser lines = RecordParser.newDelimited("\n", this::line).maxRecordSize(MAX_LINE_BYTES);
      lines.exceptionHandler(e -> streamFailed(new UpstreamException(
          "the model endpoint sent a line longer than " + MAX_LINE_BYTES + " bytes", 200)));
      response.handler(lines);
      response.endHandler(v -> {
        if (!done) {
          if (finishReason != null) {
            finish();
          } else {
            streamFailed(new UpstreamException("the model stream ended without a finish reason", 200));
          }
        }
      });
    }

    void line(Buffer raw) {
      if (done) {
        return;
      }
      try {
        parse(raw);
      } catch (RuntimeException e) {
        // A chunk of the wrong shape (a string where an object belongs, ...): this attempt is over now,
        // not when the idle timeout notices that nothing usable arrives.
        log.warn("model endpoint sent a malformed chunk: {}", abbreviate(raw.toString()));
        streamFailed(new UpstreamException("the model endpoint sent a malformed chunk", 200));
      }
    }

    private void parse(Buffer raw) {
      String line = raw.toString().strip();
      if (!line.startsWith("data:")) {
        return; // comments, event names, blank separators
      }
      String data = line.substring(5).strip();
      if (data.equals("[DONE]")) {
        finish();
        return;
      }
      JsonObject chunk = new JsonObject(data);
      JsonArray choices = chunk.getJsonArray("choices");
      if (choices == null || choices.isEmpty()) {
        return;
      }
      JsonObject choice = choices.getJsonObject(0);
      JsonObject delta = choice.getJsonObject("delta", new JsonObject());
      String content = delta.getString("content");
      if (content != null && !content.isEmpty()) {
        produced = true;
        sink.text(content);
      }
      JsonArray calls = delta.getJsonArray("tool_calls");
      if (calls != null) {
        produced = true;
        for (int i = 0; i < calls.size(); i++) {
          JsonObject call = calls.getJsonObject(i);
          ToolCallBuilder builder = toolCalls.computeIfAbsent(call.getInteger("index", i), k -> new ToolCallBuilder());
          builder.add(call);
        }
      }
      if (choice.getString("finish_reason") != null) {
        finishReason = choice.getString("finish_reason");
      }
    }

    void finish() {
      if (done) {
        return;
      }
      done = true;
      for (ToolCallBuilder call : toolCalls.values()) {
        sink.toolCall(call.build());
      }
      sink.finished(finishReason != null ? finishReason : (toolCalls.isEmpty() ? "stop" : "tool_calls"));
    }

    /** The connection failed under a running call (not one this attempt cancelled itself). */
    void transportFailed(Throwable cause) {
      if (done) {
        return;
      }
      log.info("model endpoint failed: {}", String.valueOf(cause));
      streamFailed(unreachable(cause));
    }

    void streamFailed(Throwable cause) {
      if (done) {
        return;
      }
      if (produced) {
        fail(cause);
      } else {
        retryOrFail(cause);
      }
    }

    void retryOrFail(Throwable cause) {
      if (done) {
        return;
      }
      if (current != null) {
        current.reset();
        current = null;
      }
      if (tries >= settings.retries()) {
        fail(cause);
        return;
      }
      long delay = Math.min(settings.retryBackoffMillis() << Math.min(tries, 10), 30_000);
      tries++;
      log.info("model call failed ({}); retry {} of {} in {} ms", cause.getMessage(), tries, settings.retries(), delay);
      retryTimer = vertx.setTimer(delay, t -> context.runOnContext(v -> start()));
    }

    void fail(Throwable cause) {
      if (done) {
        return;
      }
      done = true;
      if (current != null) {
        current.reset();
      }
      sink.failed(cause);
    }

    @Override
    public void cancel() {
      done = true;
      if (retryTimer >= 0) {
        vertx.cancelTimer(retryTimer);
      }
      if (current != null) {
        current.reset();
      }
    }
  }

  /** Tool calls arrive in fragments: id and name first, then pieces of the arguments. */
  private static final class ToolCallBuilder {
    String id;
    String name;
    final StringBuilder arguments = new StringBuilder();

    void add(JsonObject fragment) {
      if (fragment.getString("id") != null) {
        id = fragment.getString("id");
      }
      JsonObject function = fragment.getJsonObject("function");
      if (function != null) {
        if (function.getString("name") != null) {
          name = function.getString("name");
        }
        if (function.getString("arguments") != null) {
          arguments.append(function.getString("arguments"));
        }
      }
    }

    ToolCallRequest build() {
      return new ToolCallRequest(id != null ? id : "call_" + Integer.toHexString(System.identityHashCode(this)),
          name != null ? name : "unknown", arguments.length() == 0 ? "{}" : arguments.toString());
    }
  }

  /** A transport failure as sessions see it: what happened, not where (hosts and addresses stay in the log). */
  private static UpstreamException unreachable(Throwable cause) {
    if (cause instanceof UpstreamException e) {
      return e;
    }
    String what = cause instanceof java.util.concurrent.TimeoutException
        || String.valueOf(cause.getMessage()).toLowerCase(java.util.Locale.ROOT).contains("timeout")
        ? "the model endpoint timed out" : "the model endpoint could not be reached";
    return new UpstreamException(what, 0);
  }

  private static String abbreviate(String text) {
    return text.length() > 300 ? text.substring(0, 300) + "..." : text;
  }

  /** An answer from the upstream that is not a usable completion. */
  public static final class UpstreamException extends RuntimeException {
    private final int status;

    UpstreamException(String message, int status) {
      super(message, null, false, false);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }
}
