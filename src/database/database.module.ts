import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../config/data-source-options.js';
import { surviveLostConnections } from './connection-errors.js';

@Injectable()
class CloseDatabaseOnShutdown implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Runs after the HTTP server has finished its in-flight requests. */
  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** Provides the one DataSource (connection pool) of the application. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          useFactory: async () => {
            const dataSource = await new DataSource(dataSourceOptions(databaseUrl)).initialize();
            const logger = new Logger('Database');
            surviveLostConnections(dataSource, (state) => logger.warn({ msg: 'database connection lost', sqlState: state ?? null }));
            return dataSource;
          },
        },
        CloseDatabaseOnShutdown,
      ],
      exports: [DataSource],
    };
  }
}
