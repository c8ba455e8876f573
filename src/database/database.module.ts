import { DynamicModule, Logger } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from '../config/data-source-options.js';
import { surviveLostConnections } from './connection-errors.js';
import { sendStatementsUnnamed } from './query-rows.js';

/**
 * The one DataSource (connection pool) of the application, through @nestjs/typeorm: it is
 * injectable by its type everywhere, and destroyed when the application shuts down (after the HTTP
 * server has finished its in-flight requests). What @nestjs/typeorm does not do: keep a connection
 * the server ends from crashing the process (surviveLostConnections).
 */
export class DatabaseModule {
  static forRoot(databaseUrl: string, statements: { preparedStatements: boolean } = { preparedStatements: true }): DynamicModule {
    const logger = new Logger('Database');
    return TypeOrmModule.forRootAsync({
      // main.ts has already reached the database (migrations): no retries at start.
      useFactory: () => ({ ...dataSourceOptions(databaseUrl), retryAttempts: 0 }),
      dataSourceFactory: async (options?: DataSourceOptions) => {
        const dataSource = await new DataSource(options!).initialize();
        surviveLostConnections(dataSource, (state) => logger.warn({ msg: 'database connection lost', sqlState: state ?? null }));
        if (!statements.preparedStatements) sendStatementsUnnamed(dataSource);
        return dataSource;
      },
    });
  }
}
