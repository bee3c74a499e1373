package io.tether.loadtest;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

import static io.gatling.javaapi.core.CoreDsl.asLongAsDuring;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

/**
 * (b) Reconnect storm: while its answer streams, each user drops its WebSocket at random moments
 * (about one look in eight) and resumes from its last offset on a random node. The answer it rebuilds
 * across all its connections must have no gap and no duplicate and equal the session's final answer.
 */
public class ReconnectStormSimulation extends Simulation {

  private final ScenarioBuilder storm = scenario("reconnect storm")
      .exec(Steps.CREATE_SESSION)
      .exec(Steps.connect("connect"))
      .exec(Steps.ASK)
      .exec(asLongAsDuring(Steps::notDone, Settings.ANSWER_DEADLINE).on(
          pause(Duration.ofMillis(250))
              .exec(Steps.READ)
              .doIf(session -> Steps.notDone(session) && ThreadLocalRandom.current().nextInt(8) == 0).then(
                  exec(ws("drop").close())
                      .exec(session -> session.set("base", Settings.randomBase()))
                      .exec(Steps.connect("resume on a random node")))))
      .exec(ws("close").close())
      .exec(Steps.VERIFY);

  {
    setUp(storm.injectOpen(rampUsers(Settings.USERS).during(Settings.RAMP_SECONDS)))
        .protocols(http.baseUrl(Settings.BASE_URLS.get(0)).wsUnmatchedInboundMessageBufferSize(10_000))
        .assertions(global().failedRequests().count().is(0L));
  }
}
