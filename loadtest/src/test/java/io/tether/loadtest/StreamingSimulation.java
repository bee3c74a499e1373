package io.tether.loadtest;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.ws;

/**
 * (a) Streaming: each user creates a session on a random node, sends a message over the session's
 * WebSocket and reads the whole answer there; its rebuilt answer must equal the session's final answer.
 */
public class StreamingSimulation extends Simulation {

  private final ScenarioBuilder streaming = scenario("streaming")
      .exec(Steps.CREATE_SESSION)
      .exec(Steps.connect("connect"))
      .exec(Steps.ASK)
      .exec(Steps.FOLLOW)
      .exec(ws("close").close())
      .exec(Steps.VERIFY);

  {
    setUp(streaming.injectOpen(rampUsers(Settings.USERS).during(Settings.RAMP_SECONDS)))
        .protocols(http.baseUrl(Settings.BASE_URLS.get(0)).wsUnmatchedInboundMessageBufferSize(10_000))
        .assertions(global().failedRequests().count().is(0L));
  }
}
