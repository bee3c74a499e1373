# Tether's container image: built with Maven, run on a small JRE as a non-root user.
#   docker build -t tether:0.1.0 .
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml cluster.xml ./
COPY src ./src
COPY clients/js/src ./clients/js/src
RUN mvn -q -B -DskipTests package

FROM eclipse-temurin:17-jre-jammy
RUN groupadd --system --gid 10001 tether && useradd --system --uid 10001 --gid tether --no-create-home tether
WORKDIR /app
COPY --from=build /src/target/tether.jar /app/tether.jar
USER 10001:10001
EXPOSE 8080 5701
ENTRYPOINT ["java", "-jar", "/app/tether.jar"]
