// Fresh, empty databases on a throwaway PostgreSQL server (scripts/services.ts), one per test or benchmark run,
// so each starts from migration 1 without restarting the server.
import { PgClient } from "@effect/sql-pg";
import { Effect, Redacted, type Scope } from "effect";
import { SqlClient } from "effect/sql/SqlClient";

let created = 0;

/** Runs one administrative statement (CREATE/DROP DATABASE) on the database of `url`. */
const admin = (url: string, statement: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient;
    yield* sql.unsafe(statement);
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })), Effect.scoped, Effect.orDie);

/**
 * A new empty database beside the one `serverUrl` names (postgres://…/protochat); its URL. Dropped (closing any
 * connection still open to it) when the scope closes.
 */
export const freshDatabase = (serverUrl: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      // Our own name, not input: safe to put in the statement (CREATE DATABASE takes no parameters).
      const name = `scratch_${process.pid}_${++created}`;
      yield* admin(serverUrl, `CREATE DATABASE ${name}`);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return url.toString();
    }),
    (url) => admin(serverUrl, `DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`),
  );
