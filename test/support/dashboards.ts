/** The committed dashboards (grafana/*.json) as the tests read them: the fields they check. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './env';

export interface Target {
  expr: string;
  instant?: boolean;
  refId?: string;
  legendFormat?: string;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
  links?: { url: string }[];
  gridPos: { w: number; h: number };
}
export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { name: string; type: string; query?: unknown }[] };
  panels: Panel[];
  annotations: { list: { expr?: string }[] };
  links: { url?: string }[];
  __inputs?: unknown;
}

export const loadDashboard = (name: string) =>
  JSON.parse(fs.readFileSync(path.join(REPO, 'grafana', name), 'utf8')) as Dashboard;
