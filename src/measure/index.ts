export * from './rate';
export * from './overhead';
export * from './verdict';
