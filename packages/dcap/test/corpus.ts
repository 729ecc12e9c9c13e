export * from '@cloister/testkit';
