// placeholder, replaced by the package's entry point
export {};
