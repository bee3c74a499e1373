package io.tether.conversation;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;

import java.net.URI;
import java.nio.charset.StandardCharsets;

import static io.tether.conversation.SessionEvents.TOOL_COMPLETED;
import static io.tether.conversation.SessionEvents.TOOL_FAILED;
import static io.tether.conversation.SessionEvents.TOOL_RUNNING;
import static io.tether.conversation.SessionEvents.event;

/**
 * Runs the tool calls the server executes: the simulated model's built-in demo tool, or a POST to the
 * app's webhook ({@code TETHER_TOOL_WEBHOOK_URL}, with an {@code Idempotency-Key} of session and call,
 * since a new owner runs again a call whose outcome its predecessor did not record). A client-executed
 * tool is only marked running; the client posts its result.
 */
final class ToolRunner {

  private final SessionJournal journal;
  private final ConversationServices services;
  private final Vertx vertx;
  private final String sessionId;

  ToolRunner(SessionJournal journal, ConversationServices services, Vertx vertx, String sessionId) {
    this.journal = journal;
    this.services = services;
    this.vertx = vertx;
    this.sessionId = sessionId;
  }

  /**
   * Marks {@code tool} running and runs it; once its outcome is appended, {@code afterOutcome} runs (the
   * model continues when every call of the turn has one).
   */
  void run(JsonObject tool, Runnable afterOutcome) {
    if (tool == null) {
      return;
    }
    String callId = tool.getString("callId");
    String executor = tool.getString("executor", "none");
    journal.emit(event(TOOL_RUNNING).put("callId", callId).put("executor", executor));
    if (executor.equals("client")) {
      return;
    }
    Future<Object> outcome = executor.equals("builtin") ? builtin(tool) : webhook(tool);
    outcome.onComplete(ar -> {
      if (journal.stopped()) {
        return;
      }
      JsonObject current = journal.state().tool(callId);
      if (current == null || !Conversation.TOOL_RUNNING_STATE.equals(current.getString("state"))) {
        return; // stopped or answered meanwhile
      }
      services.metrics().toolCall(ar.succeeded() ? "completed" : "failed");
      journal.emit(ar.succeeded() ? event(TOOL_COMPLETED).put("callId", callId).put("result", ar.result())
              : event(TOOL_FAILED).put("callId", callId).put("error", String.valueOf(ar.cause().getMessage())))
          .onSuccess(v -> afterOutcome.run());
    });
  }

  /** The demo tool of the simulated model. */
  private Future<Object> builtin(JsonObject tool) {
    Promise<Object> promise = Promise.promise();
    JsonObject args;
    try {
      args = new JsonObject(tool.getString("arguments", "{}"));
    } catch (RuntimeException e) {
      return Future.failedFuture("arguments are not a JSON object");
    }
    String city = args.getString("city", "Paris");
    vertx.setTimer(200, t -> promise.complete(new JsonObject().put("city", city).put("forecast", "sunny")
        .put("celsius", 18 + Math.floorMod(city.hashCode(), 10)).encode()));
    return promise.future();
  }

  /** POSTs the call to the app's backend; its 2xx body (JSON or text) is the result. */
  private Future<Object> webhook(JsonObject tool) {
    String url = services.config().toolWebhookUrl();
    if (url.isEmpty()) {
      return Future.failedFuture("no TETHER_TOOL_WEBHOOK_URL is configured");
    }
    URI uri = URI.create(url);
    boolean tls = "https".equalsIgnoreCase(uri.getScheme());
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setHost(uri.getHost())
        .setPort(uri.getPort() > 0 ? uri.getPort() : (tls ? 443 : 80)).setSsl(tls)
        .setURI(uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
        .setTimeout(services.config().toolTimeoutMillis())
        .putHeader("Content-Type", "application/json")
        .putHeader("Idempotency-Key", sessionId + ":" + tool.getString("callId"));
    if (!services.config().toolWebhookToken().isEmpty()) {
      options.putHeader("Authorization", "Bearer " + services.config().toolWebhookToken());
    }
    JsonObject body = new JsonObject().put("sessionId", sessionId).put("callId", tool.getString("callId"))
        .put("name", tool.getString("name")).put("arguments", tool.getString("arguments"));
    return services.webhookClient().request(options)
        .compose(req -> req.send(body.toBuffer()))
        .compose(resp -> resp.body().compose(b -> resp.statusCode() / 100 == 2
            ? Future.succeededFuture((Object) b.toString(StandardCharsets.UTF_8))
            : Future.failedFuture("webhook answered " + resp.statusCode())));
  }
}
