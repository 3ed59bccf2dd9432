import { Controller } from '@nestjs/common';
import { schedulerV1 } from '@wharf/proto';
import { RunTaskUseCase } from './run-task.use-case';
import { StopTaskUseCase } from './stop-task.use-case';

@Controller()
@schedulerV1.SchedulerServiceControllerMethods()
export class SchedulerController implements schedulerV1.SchedulerServiceController {
  constructor(
    private readonly runTaskUseCase: RunTaskUseCase,
    private readonly stopTaskUseCase: StopTaskUseCase,
  ) {}

  runTask(request: schedulerV1.RunTaskRequest): Promise<schedulerV1.RunTaskResponse> {
    return this.runTaskUseCase.execute(request);
  }

  stopTask(request: schedulerV1.StopTaskRequest): Promise<schedulerV1.StopTaskResponse> {
    return this.stopTaskUseCase.execute(request);
  }
}
