import { isTaskState, type TaskState } from '../core/states.js';

/**
 * The Runs panel's filter, typed after `/`: words separated by spaces. A state name
 * (`failed`) keeps runs in that state, `queue:NAME` (or `q:NAME`) runs of that queue, anything
 * else (or `task:NAME`) runs of that task. Words of one kind are alternatives, kinds combine:
 * `failed retrying resize` is "resize runs that failed or are retrying".
 */
export interface RunFilter {
  states: readonly TaskState[];
  tasks: readonly string[];
  queues: readonly string[];
  /** The text as typed (normalised), shown in the panel title. */
  text: string;
}

export const NO_FILTER: RunFilter = { states: [], tasks: [], queues: [], text: '' };

export function parseFilter(text: string): RunFilter {
  const states: TaskState[] = [];
  const tasks: string[] = [];
  const queues: string[] = [];
  const words = text.trim().split(/\s+/).filter(Boolean);
  for (const word of words) {
    const [kind, ...rest] = word.split(':');
    const value = rest.join(':');
    if (rest.length > 0 && (kind === 'queue' || kind === 'q') && value) queues.push(value);
    else if (rest.length > 0 && kind === 'task' && value) tasks.push(value);
    else if (rest.length > 0 && kind === 'state' && isTaskState(value)) states.push(value);
    else if (isTaskState(word.toLowerCase())) states.push(word.toLowerCase() as TaskState);
    else tasks.push(word);
  }
  const unique = <T>(xs: T[]) => [...new Set(xs)];
  return { states: unique(states), tasks: unique(tasks), queues: unique(queues), text: words.join(' ') };
}

export function isFiltering(filter: RunFilter): boolean {
  return filter.states.length + filter.tasks.length + filter.queues.length > 0;
}

export function matchesFilter(filter: RunFilter, run: { task: string; queue: string; state: TaskState }): boolean {
  return (
    (filter.states.length === 0 || filter.states.includes(run.state)) &&
    (filter.tasks.length === 0 || filter.tasks.includes(run.task)) &&
    (filter.queues.length === 0 || filter.queues.includes(run.queue))
  );
}
