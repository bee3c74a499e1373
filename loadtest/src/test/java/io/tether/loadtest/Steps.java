package io.tether.loadtest;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.Session;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.asLongAsDuring;
import static io.gatling.javaapi.core.CoreDsl.bodyString;
import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.jmesPath;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.tryMax;
import static io.gatling.javaapi.http.HttpDsl.header;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.sse;
import static io.gatling.javaapi.http.HttpDsl.status;
import static io.gatling.javaapi.http.HttpDsl.ws;

/**
 * The steps the simulations share. A user behaves as the browser client does: it talks to nodes that
 * are ready (as a load balancer would route it), retries a failed request on another node, replaces a
 * connection that went silent (its node died) with a new one from its last offset, and in the end
 * checks the answer it rebuilt against the session's final answer.
 */
final class Steps {

  private static final Duration LOOK = Duration.ofMillis(250);
  private static final Function<Session, String> WS_NAME = s -> "ws-" + s.getInt("conn");
  private static final Function<Session, String> SSE_NAME = s -> "sse-" + s.getInt("conn");

  private Steps() {
  }

  /**
   * Retries a refused request on another ready node, as the browser client does: after a pause that
   * starts longer than the readiness probe's period (a node that just died is seen as such) and
   * doubles up to 3 s, for at most eight attempts (about 15 s, longer than a node kill's reassignment).
   */
  private static ChainBuilder onLiveNode(ChainBuilder request) {
    return tryMax(8, "attempt").on(doIf(s -> s.getInt("attempt") > 0)
            .then(pause(s -> Duration.ofMillis(Math.min(3_000, 400L << Math.min(4, s.getInt("attempt") - 1)))))
        .exec(s -> s.set("base", Settings.liveBase())).exec(request));
  }

  private static String stream(Session s, String live) {
    return "/v1/stream/sessions/" + s.getString("id") + "?live=" + live + "&offset=" + s.getString("offset")
        + "&token=" + s.getString("token");
  }

  /** A new session (its id and token), and a fresh tracker. */
  static final ChainBuilder CREATE_SESSION = exec(AnswerTracker::start)
      .exec(onLiveNode(exec(http("create session").post(s -> s.getString("base") + "/v1/sessions")
          .body(StringBody("{\"device\":\"gatling\"}")).asJson()
          .check(status().is(201), jmesPath("sessionId").saveAs("id"), jmesPath("token").saveAs("token")))))
      // A user whose session could not be created has nothing to follow (it fails the final count);
      // following a session without an id and token would only collect 401s.
      .exitHereIf(s -> !s.contains("token"));

  /** The user's message, idempotent by its id, so a retry on another node cannot send it twice. */
  static final ChainBuilder ASK = exec(s -> s.set("messageId", "m_" + UUID.randomUUID()))
      .exec(onLiveNode(exec(http("send message").post(s -> s.getString("base") + "/v1/sessions/" + s.getString("id") + "/messages")
          .header("Authorization", "Bearer #{token}")
          .body(StringBody("{\"text\":\"Tell me about durable sessions\",\"messageId\":\"#{messageId}\"}")).asJson()
          .check(status().is(200)))));

  /** The answer the session ended with must be the text rebuilt from the transport, with no gap or duplicate. */
  static final ChainBuilder VERIFY = onLiveNode(exec(http("final answer")
      .get(s -> s.getString("base") + "/v1/sessions/" + s.getString("id"))
      .header("Authorization", "Bearer #{token}")
      .check(status().is(200), jmesPath("messages[-1].text").saveAs("final"),
          jmesPath("messages[-1].text").is(AnswerTracker::expected))))
      .exec(AnswerTracker::explainMismatch);

  static boolean notDone(Session session) {
    return !session.getBoolean("done");
  }

  /** A new connection: its own name, a fresh silence clock, and no half-received SSE batch of the old one. */
  private static Session nextConnection(Session s) {
    return s.set("conn", s.getInt("conn") + 1).set("heardAt", System.currentTimeMillis()).set("pending", "");
  }

  // ------------------------------------------------------------------------------------ WebSocket

  /** Each attempt gets its own socket name: a failed attempt's socket stays registered under the old one. */
  static ChainBuilder wsConnect(String name) {
    return onLiveNode(exec(Steps::nextConnection).exec(ws(name).wsName(WS_NAME)
        .connect(s -> Settings.ws(s.getString("base")) + stream(s, "ws"))));
  }

  /** Follows the answer on WebSocket; with {@code storm}, also drops the socket at random moments. */
  static ChainBuilder wsFollow(boolean storm) {
    ChainBuilder look = pause(LOOK).exec(ws.processUnmatchedMessages(WS_NAME, AnswerTracker::websocket))
        .exec(doIf(AnswerTracker::stale).then(wsConnect("reconnect after silence")));
    if (storm) {
      // Only a socket that delivered a frame in the last half second is dropped: one whose node just
      // died is left to the silence watchdog (closing a crashed socket is an error in Gatling).
      look = look.exec(doIf(s -> notDone(s) && AnswerTracker.heardWithin(s, 500) && ThreadLocalRandom.current().nextInt(8) == 0)
          .then(exec(ws("drop").wsName(WS_NAME).close()).exec(wsConnect("resume on a random node"))));
    }
    return wsConnect("connect")
        .exec(asLongAsDuring(Steps::notDone, Settings.ANSWER_DEADLINE).on(look))
        .exec(AnswerTracker::reportUnfinished)
        .exec(doIf(s -> AnswerTracker.heardWithin(s, 1_000)).then(exec(ws("close").wsName(WS_NAME).close())));
  }

  // ------------------------------------------------------------------------------------ SSE

  static ChainBuilder sseConnect(String name) {
    return onLiveNode(exec(Steps::nextConnection).exec(sse(name).sseName(SSE_NAME)
        .get(s -> s.getString("base") + stream(s, "sse"))));
  }

  static ChainBuilder sseFollow() {
    ChainBuilder look = pause(LOOK).exec(sse.processUnmatchedMessages(SSE_NAME, AnswerTracker::sse))
        .exec(doIf(AnswerTracker::stale).then(sseConnect("SSE reconnect after silence")));
    return sseConnect("SSE connect")
        .exec(asLongAsDuring(Steps::notDone, Settings.ANSWER_DEADLINE).on(look))
        .exec(AnswerTracker::reportUnfinished)
        .exec(doIf(s -> AnswerTracker.heardWithin(s, 1_000)).then(exec(sse("SSE close").sseName(SSE_NAME).close())));
  }

  // ------------------------------------------------------------------------------------ long-poll

  static ChainBuilder longPollFollow() {
    return asLongAsDuring(Steps::notDone, Settings.ANSWER_DEADLINE).on(
        onLiveNode(exec(http("long-poll").get(s -> s.getString("base") + stream(s, "long-poll"))
            .check(status().in(200, 204), header("Stream-Next-Offset").saveAs("next"), bodyString().saveAs("body"))))
            .exec(s -> AnswerTracker.longPoll(s, s.getString("body"), s.getString("next"))))
        .exec(AnswerTracker::reportUnfinished);
  }
}
