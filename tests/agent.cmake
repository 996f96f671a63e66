# agent unit tests
