import { Controller } from '@nestjs/common';
import { schedulerV1 } from '@wharf/proto';
import { ExplainUseCase } from './explain.use-case';
import { RunTaskUseCase } from './run-task.use-case';
import { StartTaskUseCase } from './start-task.use-case';
import { StopTaskUseCase } from './stop-task.use-case';

@Controller()
@schedulerV1.SchedulerServiceControllerMethods()
export class SchedulerController implements schedulerV1.SchedulerServiceController {
  constructor(
    private readonly runTaskUseCase: RunTaskUseCase,
    private readonly stopTaskUseCase: StopTaskUseCase,
    private readonly startTaskUseCase: StartTaskUseCase,
    private readonly explainUseCase: ExplainUseCase,
  ) {}

  runTask(request: schedulerV1.RunTaskRequest): Promise<schedulerV1.RunTaskResponse> {
    return this.runTaskUseCase.execute(request);
  }

  stopTask(request: schedulerV1.StopTaskRequest): Promise<schedulerV1.StopTaskResponse> {
    return this.stopTaskUseCase.execute(request);
  }

  startTask(request: schedulerV1.StartTaskRequest): Promise<schedulerV1.StartTaskResponse> {
    return this.startTaskUseCase.execute(request);
  }

  explain(request: schedulerV1.ExplainRequest): Promise<schedulerV1.ExplainResponse> {
    return this.explainUseCase.execute(request);
  }
}
