package io.tether.loadtest;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.Session;

import java.time.Duration;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.jmesPath;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;
import static io.gatling.javaapi.http.HttpDsl.ws;

/** The steps the simulations share: create a session, follow it over WebSocket, check the answer. */
final class Steps {

  private Steps() {
  }

  /** A new session (its id and token) on a random node, and a fresh tracker. */
  static final ChainBuilder CREATE_SESSION = exec(session -> AnswerTracker.start(session).set("base", Settings.randomBase()))
      .exec(http("create session").post(session -> session.getString("base") + "/v1/sessions")
          .body(StringBody("{\"device\":\"gatling\"}")).asJson()
          .check(status().is(201), jmesPath("sessionId").saveAs("id"), jmesPath("token").saveAs("token")));

  /** Opens the session's WebSocket on the user's current node, from the last offset it has. */
  static ChainBuilder connect(String name) {
    return exec(ws(name).connect(session -> Settings.ws(session.getString("base")) + "/v1/stream/sessions/"
        + session.getString("id") + "?live=ws&offset=" + session.getString("offset") + "&token=" + session.getString("token")));
  }

  /** Sends the user's message as a command frame on its socket. */
  static final ChainBuilder ASK = exec(ws("ask").sendText(
      "{\"type\":\"command\",\"id\":1,\"command\":{\"type\":\"message\",\"text\":\"Tell me about durable sessions\"}}"));

  /** Applies the frames received since the last look. */
  static final ChainBuilder READ = exec(ws.processUnmatchedMessages(AnswerTracker::process));

  /** Follows the answer until it completes (or the deadline passes). */
  static final ChainBuilder FOLLOW = exec(
      io.gatling.javaapi.core.CoreDsl.asLongAsDuring(session -> !session.getBoolean("done"), Settings.ANSWER_DEADLINE)
          .on(io.gatling.javaapi.core.CoreDsl.pause(Duration.ofMillis(250)).exec(READ)));

  /** The answer the session ended with (snapshot) must be the text rebuilt from the frames, with no gap or duplicate. */
  static final ChainBuilder VERIFY = exec(http("final answer")
      .get(session -> Settings.randomBase() + "/v1/sessions/" + session.getString("id"))
      .header("Authorization", "Bearer #{token}")
      .check(status().is(200), jmesPath("messages[-1].text").is(AnswerTracker::expected)));

  static boolean notDone(Session session) {
    return !session.getBoolean("done");
  }
}
