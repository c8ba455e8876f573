import { DynamicModule, Logger } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ANSWER_TIMEOUT_MS, dataSourceOptions, requestPathClientSettings } from '../config/data-source-options.js';
import { surviveLostConnections } from './connection-errors.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Sql } from './sql.js';

/**
 * The database, twice over the same URL and bounds:
 * - the DataSource, through @nestjs/typeorm: the migrations (and tests' own queries);
 * - Sql, the request path's own pool in pg's pipeline mode (database/sql.ts): every repository and
 *   every transaction of a request. Closed when the application shuts down, after the HTTP server
 *   has finished its in-flight requests.
 * What neither does by itself: keep a connection the server ends from crashing the process.
 */
export class DatabaseModule {
  static forRoot(databaseUrl: string, pool: { preparedStatements: boolean; poolIdleSeconds: number }): DynamicModule {
    const logger = new Logger('Database');
    const onLost = (state: string | undefined) => logger.warn({ msg: 'database connection lost', sqlState: state ?? null });
    const typeOrm = TypeOrmModule.forRootAsync({
      // main.ts has already reached the database (migrations): no retries at start.
      useFactory: () => ({ ...dataSourceOptions(databaseUrl, 4), retryAttempts: 0 }),
      dataSourceFactory: async (options?: DataSourceOptions) => {
        const dataSource = await new DataSource(options!).initialize();
        surviveLostConnections(dataSource, onLost);
        return dataSource;
      },
    });
    return {
      module: DatabaseModule,
      global: true,
      imports: [typeOrm],
      providers: [
        {
          provide: Sql,
          useFactory: (metrics: MetricsService) => {
            const sql = new Sql({
              url: databaseUrl,
              poolSize: 20,
              namedStatements: pool.preparedStatements,
              idleSeconds: pool.poolIdleSeconds,
              answerTimeoutMs: ANSWER_TIMEOUT_MS,
              clientSettings: requestPathClientSettings(),
              onLost,
            });
            metrics.poolUsage = () => sql.usage();
            return sql;
          },
          inject: [MetricsService],
        },
      ],
      exports: [Sql],
    };
  }
}
